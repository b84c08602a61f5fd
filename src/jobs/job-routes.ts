import { signStream } from '../auth/signed-stream.js'
import { HeraldError } from '../errors.js'
import { ndjsonFraming } from '../framing/ndjson.js'
import { sseFramingJob } from '../framing/sse-frame.js'
import { sendJson, type HttpResponse } from '../http/respond.js'
import type { Router } from '../http/router.js'
import { signedIdentifier } from '../protocol/identifier.js'
import type { StreamMessage, StreamPosition } from '../protocol/messages.js'
import type { CursorAnswers } from '../transport/cursor-poll.js'
import type { HttpTransports } from '../transport/http-transports.js'
import { NDJSON } from '../transport/ndjson.js'
import { EVENT_STREAM, lastEventId } from '../transport/sse.js'
import { openStream, positionParam } from '../transport/stream-open.js'
import { FINAL_STATES, type JobSnapshot } from './job.js'
import type { JobManager } from './job-manager.js'

export interface JobRoutesOptions {
  streamsSecret: string
  /** Default hold of a job poll, ms. */
  pollTimeoutMs: number
  /** Largest `?timeout=` a job poll may ask for, ms. */
  pollMaxTimeoutMs: number
}

/**
 * A job's own streams, on the generic transports: `GET /jobs/:id/events` (SSE),
 * `GET /jobs/:id/stream` (NDJSON) — the snapshot first, then the events, ending after the final
 * one — and `GET /jobs/:id/poll` (the cursor poll). The job id is the capability, as for
 * `GET /jobs/:id`: each subscribes under the stream's signed name.
 */
export function addJobStreamRoutes(router: Router, jobs: JobManager, http: HttpTransports, options: JobRoutesOptions): void {
  const subscription = async (id: string) => {
    const job = await jobs.get(id)
    if (!job) throw new HeraldError('HERALD_ERR_NOT_FOUND', `job ${JSON.stringify(id)}`)
    return { job, identifier: signedIdentifier(signStream(job.stream, options.streamsSecret)), final: FINAL_STATES.has(job.state) }
  }

  router.add('OPTIONS', '/jobs/:id/events', (req, res) => http.cors.preflight(req, res, 'GET, OPTIONS'))
  router.add('GET', '/jobs/:id/events', async (req, res, { id }, url) => {
    const { job, identifier, final } = await subscription(id)
    // A finished job's snapshot already holds its outcome: it is sent, then the stream ends.
    const history = final ? undefined : (lastEventId(req) ?? positionParam(url, job.stream))
    return openStream(http.streams, req, res, url, {
      transport: 'sse', framing: sseFramingJob, contentType: EVENT_STREAM,
      subscriptions: [{ identifier, history, endsWith: jobs.isFinal }], endNow: final,
    })
  })

  router.add('OPTIONS', '/jobs/:id/stream', (req, res) => http.cors.preflight(req, res, 'GET, OPTIONS'))
  router.add('GET', '/jobs/:id/stream', async (req, res, { id }, url) => {
    const { job, identifier, final } = await subscription(id)
    const history = final ? undefined : positionParam(url, job.stream)
    return openStream(http.streams, req, res, url, {
      transport: 'http-stream', framing: ndjsonFraming, contentType: NDJSON,
      subscriptions: [{ identifier, history, endsWith: jobs.isFinal }], endNow: final,
    })
  })

  router.add('OPTIONS', '/jobs/:id/poll', (req, res) => http.cors.preflight(req, res, 'GET, OPTIONS'))
  router.add('GET', '/jobs/:id/poll', async (req, res, { id }, url) => {
    const { job, final } = await subscription(id)
    const after = intParam(url, 'after', 0)
    const timeoutMs = Math.min(numberParam(url, 'timeout', options.pollTimeoutMs / 1000) * 1000, options.pollMaxTimeoutMs)
    const epoch = url.searchParams.get('epoch') || undefined
    return http.cursorPolls.poll(req, res, url, { stream: job.stream, after, epoch, timeoutMs, ended: final }, pollAnswers(jobs, http, job))
  })
}

/**
 * `GET /jobs/:id/poll?after=<offset>&epoch=<epoch>&timeout=<s>`: 200 with every event after the
 * cursor, the next cursor and the job's state (`done` once it has finished, so a client knows to
 * stop); 204 at the timeout (ask again); 410 with the current snapshot and position when the
 * cursor cannot be served (older than the kept history, another epoch, ahead of the stream).
 */
function pollAnswers(jobs: JobManager, http: HttpTransports, job: JobSnapshot): CursorAnswers {
  const now = async () => (await jobs.get(job.id)) ?? job
  const state = (snapshot: JobSnapshot) => ({ state: snapshot.state, done: FINAL_STATES.has(snapshot.state) })
  return {
    async events(res: HttpResponse, messages: StreamMessage[]) {
      const last = messages[messages.length - 1]
      const events = messages.map((m) => JSON.parse(m.data))
      // Done only with the final event in hand: a record that is final already means it follows.
      const done = jobs.isFinal(last)
      const current = done ? events[events.length - 1].state : (await now()).state
      sendJson(res, 200, { job: job.id, events, after: last.offset, epoch: last.epoch, state: current, done })
    },
    async ended(res: HttpResponse, top: StreamPosition) {
      const snapshot = await now()
      sendJson(res, 200, { job: job.id, events: [], after: top.offset, epoch: top.epoch, ...state(snapshot), snapshot })
    },
    async gone(res: HttpResponse, why: string, top: StreamPosition | undefined) {
      http.streams.core.diagnostics.inputReject('HERALD_ERR_HISTORY_GONE', why, { job: job.id })
      const position = top ?? (await http.streams.core.hub.history(job.stream, { limit: 0 })).top
      const err = new HeraldError('HERALD_ERR_HISTORY_GONE', why)
      sendJson(res, 410, { error: { code: err.code, message: err.message }, job: (await jobs.get(job.id)) ?? null, after: position.offset, epoch: position.epoch })
    },
    timeout(res: HttpResponse) {
      res.writeHead(204, { 'cache-control': 'no-store' })
      res.end()
    },
  }
}

function numberParam(url: URL, name: string, def: number): number {
  const raw = url.searchParams.get(name)
  if (raw === null) return def
  const n = Number(raw)
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0) throw new HeraldError('HERALD_ERR_BAD_REQUEST', `${name}: expected a non-negative number`)
  return n
}

function intParam(url: URL, name: string, def: number): number {
  const n = numberParam(url, name, def)
  if (!Number.isSafeInteger(n)) throw new HeraldError('HERALD_ERR_BAD_REQUEST', `${name}: expected a non-negative integer`)
  return n
}
