import { HeraldError } from '../errors.js'
import { decodeCommand, ProtocolError } from '../protocol/codec.js'
import type { HistoryRequest } from '../protocol/messages.js'
import type { Router } from '../server/router.js'
import { splitLines } from './framing/ndjson.js'
import { readBody } from './http-body.js'
import { openStream, type StreamDeps } from './http-stream.js'
import type { Framing } from './session.js'

/**
 * NDJSON for many streams at once (`POST /stream`): every reply whole, one per line, as on a
 * WebSocket, so each data line names its identifier and position. Pings stay in: they are the
 * wire's keepalive. Cache id 14 (0-6 and their chunked forms 7-13 are taken; chunked: 21).
 */
export const ndjsonFullFraming: Framing = {
  id: 14,
  name: 'ndjson-full',
  reply: (json) => Buffer.from(json + '\n'),
  data: (json) => Buffer.from(json + '\n'),
}

/**
 * A JSON Lines body of `subscribe` commands (with their `history`) as subscriptions; anything
 * else is a 400, since these streams take no other commands (AnyCable sse/handler.go).
 */
export function subscribeLines(body: Buffer): { identifier: string; history?: HistoryRequest }[] {
  const subscriptions = splitLines(body.toString('utf8')).map((line) => {
    let command
    try {
      command = decodeCommand(line)
    } catch (err) {
      if (err instanceof ProtocolError) throw new HeraldError('HERALD_ERR_BAD_COMMAND', err.message)
      throw err
    }
    if (command.command !== 'subscribe') throw new HeraldError('HERALD_ERR_BAD_COMMAND', `only subscribe commands are accepted here, got ${command.command}`)
    return { identifier: command.identifier, history: command.history }
  })
  if (subscriptions.length === 0) throw new HeraldError('HERALD_ERR_BAD_REQUEST', 'body: at least one subscribe command (JSON Lines) is required')
  return subscriptions
}

/**
 * `POST /stream`: NDJSON's counterpart of `POST /events`, so a client follows all its streams
 * over one response, each resumed from its own position.
 */
export function addNdjsonPostRoute(router: Router, deps: StreamDeps, options: { maxBodyBytes: number }): void {
  router.add('POST', '/stream', async (req, res, _params, url) => {
    const subscriptions = subscribeLines(await readBody(req, options.maxBodyBytes))
    openStream(deps, req, res, url, { transport: 'http-stream', framing: ndjsonFullFraming, contentType: 'application/x-ndjson; charset=utf-8', subscriptions })
  })
}
