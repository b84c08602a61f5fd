import type { HeraldConfig } from '../config/schema.js'
import type { Hub } from '../hub/hub.js'
import type { JobManager } from '../jobs/job-manager.js'
import type { Router } from '../server/router.js'
import { Cors } from './cors.js'
import { Deadlines } from './deadlines.js'
import { addNdjsonRoutes, type StreamDeps } from './http-stream.js'
import { JobPollTransport } from './job-poll.js'
import { LongPollTransport } from './long-poll.js'
import type { OriginPolicy } from './origin.js'
import { addSseRoutes } from './sse.js'
import { addNdjsonPostRoute } from './stream-post.js'

/** The HTTP push transports of one Herald, for tests and shutdown. */
export interface HttpTransports {
  /** Every hold deadline of every HTTP transport. */
  readonly deadlines: Deadlines
  readonly longPoll: LongPollTransport | undefined
  readonly jobPoll: JobPollTransport
  close(): void
}

/**
 * Registers SSE (`/events`, `/jobs/:id/events`), NDJSON (`/stream` GET and POST, `/jobs/:id/stream`), session
 * long polling (`--poll-path`) and the per-job poll (`/jobs/:id/poll`). Each builds Sessions for
 * the same core as the WebSocket; none keeps its own subscriptions, history or queue.
 */
export function addHttpTransports(
  router: Router,
  deps: { hub: Hub; jobs: JobManager; config: Readonly<HeraldConfig>; origins: OriginPolicy; streamsSecret: string },
): HttpTransports {
  const c = deps.config
  const deadlines = new Deadlines()
  const streamDeps: StreamDeps = { hub: deps.hub, jobs: deps.jobs, cors: new Cors(deps.origins), streamsSecret: deps.streamsSecret }
  if (c.sse) addSseRoutes(router, streamDeps, { maxBodyBytes: c.maxBodyBytes })
  addNdjsonRoutes(router, streamDeps)
  addNdjsonPostRoute(router, streamDeps, { maxBodyBytes: c.maxBodyBytes })
  let longPoll: LongPollTransport | undefined
  if (c.poll) {
    longPoll = new LongPollTransport(deps.hub, deadlines, streamDeps.cors, {
      path: c.pollPath,
      pollInterval: c.pollInterval,
      pollFlushInterval: c.pollFlushInterval,
      pollMaxRequestSize: c.pollMaxRequestSize,
      pollKeepaliveTimeout: c.pollKeepaliveTimeout,
    })
    longPoll.register(router)
  }
  const jobPoll = new JobPollTransport(streamDeps, deadlines, { timeout: c.jobPollTimeout, maxTimeout: c.jobPollMaxTimeout })
  jobPoll.register(router)
  return { deadlines, longPoll, jobPoll, close: () => deadlines.close() }
}
