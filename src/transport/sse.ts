import { HeraldError } from '../errors.js'
import type { HistoryRequest } from '../protocol/messages.js'
import type { Router } from '../server/router.js'
import { parseSseId, sseFramingFull, sseFramingGet, sseFramingJob } from './framing/sse-frame.js'
import { readBody, type HttpRequest } from './http-body.js'
import { identifierParam, jobSubscription, openStream, positionParam, sinceParam, type StreamDeps } from './http-stream.js'
import { subscribeLines } from './stream-post.js'

const EVENT_STREAM = 'text/event-stream; charset=utf-8'

/** `Last-Event-ID` (`<offset>/<epoch>/<stream>`) as a history request for that one stream (spec §5). */
function lastEventId(req: HttpRequest): HistoryRequest | undefined {
  const raw = req.headers['last-event-id']
  const value = Array.isArray(raw) ? raw[0] : raw
  if (!value) return undefined
  const id = parseSseId(value)
  if (!id) throw new HeraldError('HERALD_ERR_BAD_REQUEST', `Last-Event-ID ${JSON.stringify(value)}: expected <offset>/<epoch>/<stream>`)
  return { streams: { [id.stream]: { offset: id.offset, epoch: id.epoch } } }
}

/**
 * Server-Sent Events, AnyCable-compatible (spec §5): `GET /events` with `identifier`, `stream` or
 * `signed_stream` (+ `history_since`, `Last-Event-ID`), `POST /events` with JSON Lines subscribe
 * commands, and `GET /jobs/:id/events` (the job's snapshot first, ends after its final event).
 */
export function addSseRoutes(router: Router, deps: StreamDeps, options: { maxBodyBytes: number }): void {
  router.add('OPTIONS', '/events', (req, res) => deps.cors.preflight(req, res, 'GET, POST, OPTIONS'))

  router.add('GET', '/events', (req, res, _params, url) => {
    const identifier = identifierParam(url)
    const since = sinceParam(url)
    const resume = lastEventId(req)
    const history = resume || since ? { ...resume, since } : undefined
    openStream(deps, req, res, url, { transport: 'sse', framing: sseFramingGet, contentType: EVENT_STREAM, subscriptions: [{ identifier, history }] })
  })

  router.add('POST', '/events', async (req, res, _params, url) => {
    const subscriptions = subscribeLines(await readBody(req, options.maxBodyBytes))
    openStream(deps, req, res, url, { transport: 'sse', framing: sseFramingFull, contentType: EVENT_STREAM, subscriptions })
  })

  router.add('OPTIONS', '/jobs/:id/events', (req, res) => deps.cors.preflight(req, res, 'GET, OPTIONS'))
  router.add('GET', '/jobs/:id/events', (req, res, { id }, url) => {
    const { job, identifier, final } = jobSubscription(deps, id)
    // A finished job's snapshot already holds its outcome: it is sent, then the stream ends.
    const history = final ? undefined : (lastEventId(req) ?? positionParam(url, job.stream))
    openStream(deps, req, res, url, {
      transport: 'sse', framing: sseFramingJob, contentType: EVENT_STREAM,
      subscriptions: [{ identifier, history }], endsWithStream: true, endNow: final,
    })
  })
}
