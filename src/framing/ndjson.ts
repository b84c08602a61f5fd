import type { ReplyType } from '../protocol/messages.js'
import { defineFraming, EMPTY_FRAME } from './framing.js'

const NDJSON_QUIET: ReadonlySet<ReplyType> = new Set(['welcome', 'confirm_subscription', 'confirm_history', 'pong'])

/**
 * NDJSON streams (GET /stream, /jobs/:id/stream): one object per line. Data is
 * `{"message",stream_id,epoch,offset}` (the position to resume from with `?after=&epoch=`), a
 * transmission (a job's snapshot) `{"message"}`; pings, rejections and `disconnect` pass as they
 * are; the protocol's bookkeeping (welcome, confirmations) is left out.
 */
export const ndjsonFraming = defineFraming({
  name: 'ndjson',
  reply: (reply) => (NDJSON_QUIET.has(reply.type) ? EMPTY_FRAME : Buffer.from(reply.json + '\n')),
  transmit: (_identifier, message) => Buffer.from(`{"message":${message}}\n`),
  data({ message: m }) {
    return Buffer.from(`{"message":${m.data},"stream_id":${JSON.stringify(m.stream)},"epoch":${JSON.stringify(m.epoch)},"offset":${m.offset}}\n`)
  },
})

/**
 * NDJSON for many streams at once (`POST /stream`): every reply whole, one per line, as on a
 * WebSocket, so each data line names its identifier and position. Pings stay in: they are this
 * wire's keepalive.
 */
export const ndjsonFullFraming = defineFraming({
  name: 'ndjson-full',
  reply: (reply) => Buffer.from(reply.json + '\n'),
  transmit: (identifier, message) => Buffer.from(`{"identifier":${JSON.stringify(identifier)},"message":${message}}\n`),
  data: (prepared) => Buffer.from(prepared.json() + '\n'),
})

/**
 * Long polling's JSON Lines: every reply object whole, one per line, as on a WebSocket. Pings are
 * left out: a held poll must not be answered by a ping (AnyCable's LP client makes its own).
 */
export const jsonlFraming = defineFraming({
  name: 'jsonl',
  reply: (reply) => (reply.type === 'ping' ? EMPTY_FRAME : Buffer.from(reply.json + '\n')),
  transmit: (identifier, message) => Buffer.from(`{"identifier":${JSON.stringify(identifier)},"message":${message}}\n`),
  data: (prepared) => Buffer.from(prepared.json() + '\n'),
})

/** Splits a JSON Lines body into its non-empty lines (the last newline is optional, as the LP client omits it). */
export function splitLines(text: string): string[] {
  return text.split(/\r?\n/).filter((l) => l.trim() !== '')
}
