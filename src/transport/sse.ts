import { HeraldError } from '../errors.js'
import { parseSseId, sseFramingFull, sseFramingGet } from '../framing/sse-frame.js'
import { readBody, type HttpRequest } from '../http/body.js'
import type { Router } from '../http/router.js'
import type { HistoryRequest } from '../protocol/messages.js'
import { identifierParam, openStream, sinceParam, type StreamDeps } from './stream-open.js'
import { subscribeLines } from './subscribe-lines.js'

export const EVENT_STREAM = 'text/event-stream; charset=utf-8'

/** `Last-Event-ID` (`<offset>/<epoch>/<stream>`) as a history request for that one stream (docs/protocol.md, HTTP transports). */
export function lastEventId(req: HttpRequest): HistoryRequest | undefined {
  const raw = req.headers['last-event-id']
  const value = Array.isArray(raw) ? raw[0] : raw
  if (!value) return undefined
  const id = parseSseId(value)
  if (!id) throw new HeraldError('HERALD_ERR_BAD_REQUEST', `Last-Event-ID ${JSON.stringify(value)}: expected <offset>/<epoch>/<stream>`)
  return { streams: { [id.stream]: { offset: id.offset, epoch: id.epoch } } }
}

/**
 * Server-Sent Events, AnyCable-compatible (docs/protocol.md): `GET /events` with `identifier`,
 * `stream` or `signed_stream` (+ `history_since`, `Last-Event-ID`), and `POST /events` with JSON
 * Lines subscribe commands. (A job's own SSE stream, `/jobs/:id/events`, is the jobs layer's.)
 */
export function addSseRoutes(router: Router, deps: StreamDeps, options: { maxBodyBytes: number }): void {
  router.add('OPTIONS', '/events', (req, res) => deps.cors.preflight(req, res, 'GET, POST, OPTIONS'))

  router.add('GET', '/events', (req, res, _params, url) => {
    const identifier = identifierParam(url)
    const since = sinceParam(url)
    const resume = lastEventId(req)
    const history = resume || since ? { ...resume, since } : undefined
    return openStream(deps, req, res, url, { transport: 'sse', framing: sseFramingGet, contentType: EVENT_STREAM, subscriptions: [{ identifier, history }] })
  })

  router.add('POST', '/events', async (req, res, _params, url) => {
    const subscriptions = subscribeLines(await readBody(req, options.maxBodyBytes), deps.core.commandLimits)
    return openStream(deps, req, res, url, { transport: 'sse', framing: sseFramingFull, contentType: EVENT_STREAM, subscriptions })
  })
}
