import type { Core } from '../core/core.js'
import type { Cors } from '../http/cors.js'
import type { Router } from '../http/router.js'
import { CursorPolls } from './cursor-poll.js'
import { Deadlines } from './deadlines.js'
import { LongPollTransport } from './long-poll.js'
import { addNdjsonRoutes } from './ndjson.js'
import { addSseRoutes } from './sse.js'
import type { StreamDeps } from './stream-open.js'

export interface HttpTransportOptions {
  sse: boolean
  poll: boolean
  maxBodyBytes: number
  longPoll: ConstructorParameters<typeof LongPollTransport>[3]
}

/**
 * The HTTP push transports of one node: SSE (`/events`), NDJSON (`/stream`, GET and POST), session long polling
 * (`--poll-path`), and two generic openers the layers above use for their own routes (the jobs'
 * `/jobs/:id/events`, `/stream` and `/poll`): a long response for chosen subscriptions, and a
 * cursor poll. Each builds wires for the same core as the WebSocket; none keeps its own
 * subscriptions, history or queue.
 */
export class HttpTransports {
  /** Every hold deadline of every HTTP transport. */
  readonly deadlines: Deadlines
  readonly streams: StreamDeps
  readonly longPoll: LongPollTransport | undefined
  readonly cursorPolls: CursorPolls

  constructor(router: Router, core: Core, readonly cors: Cors, options: HttpTransportOptions) {
    this.deadlines = new Deadlines(Date.now, (err) => core.diagnostics.requestFail('a held request\'s deadline', err))
    this.streams = { core, cors: this.cors }
    if (options.sse) addSseRoutes(router, this.streams, { maxBodyBytes: options.maxBodyBytes })
    addNdjsonRoutes(router, this.streams, { maxBodyBytes: options.maxBodyBytes })
    if (options.poll) {
      this.longPoll = new LongPollTransport(core, this.deadlines, this.cors, options.longPoll)
      this.longPoll.register(router)
    }
    this.cursorPolls = new CursorPolls(core, this.cors, this.deadlines)
  }

  /** Server shutdown: held cursor polls are answered now (connections hear it from the core). */
  shutdown(): void {
    this.cursorPolls.shutdown()
  }

  close(): void {
    this.deadlines.close()
  }
}
