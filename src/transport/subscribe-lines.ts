import { HeraldError } from '../errors.js'
import { splitLines } from '../framing/ndjson.js'
import { decodeCommand, ProtocolError, type CommandLimits } from '../protocol/codec.js'
import type { HistoryRequest } from '../protocol/messages.js'

/**
 * A JSON Lines body of `subscribe` commands (with their `history`) as subscriptions, for the
 * streams opened by a POST (`/events`, `/stream`); anything else is a 400, since these streams
 * take no other commands (AnyCable sse/handler.go).
 */
export function subscribeLines(body: Buffer, limits: CommandLimits): { identifier: string; history?: HistoryRequest }[] {
  const subscriptions = splitLines(body.toString('utf8')).map((line) => {
    let command
    try {
      command = decodeCommand(line, limits)
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
