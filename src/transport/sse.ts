import { HeraldError } from '../errors.js'
import { decodeCommand, ProtocolError } from '../protocol/codec.js'
import type { HistoryRequest } from '../protocol/messages.js'
import type { Router } from '../http/router.js'
import { splitLines } from '../framing/ndjson.js'
import { parseSseId, sseFramingFull, sseFramingGet, sseFramingJob } from '../framing/sse-frame.js'
import { readBody, type HttpRequest } from '../http/body.js'
import { identifierParam, jobSubscription, openStream, positionParam, sinceParam, type StreamDeps } from './http-stream.js'

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
    const body = await readBody(req, options.maxBodyBytes)
    const subscriptions = splitLines(body.toString('utf8')).map((line) => {
      let command
      try {
        command = decodeCommand(line)
      } catch (err) {
        if (err instanceof ProtocolError) throw new HeraldError('HERALD_ERR_BAD_COMMAND', err.message)
        throw err
      }
      // Each line is a subscription; the stream cannot carry other commands (AnyCable sse/handler.go).
      if (command.command !== 'subscribe') throw new HeraldError('HERALD_ERR_BAD_COMMAND', `only subscribe commands are accepted here, got ${command.command}`)
      return { identifier: command.identifier, history: command.history }
    })
    if (subscriptions.length === 0) throw new HeraldError('HERALD_ERR_BAD_REQUEST', 'body: at least one subscribe command (JSON Lines) is required')
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
