import type { Framing } from '../core/wire.js'
import { replyType } from './sse-frame.js'

const EMPTY = Buffer.alloc(0)
const NDJSON_QUIET = new Set(['welcome', 'confirm_subscription', 'confirm_history', 'pong'])

/**
 * NDJSON streams (GET /stream, /jobs/:id/stream): one object per line. Data is
 * `{"message",stream_id,epoch,offset}` (the position to resume from with `?after=&epoch=`), a
 * transmission (a job's snapshot) `{"message"}`; pings, rejections and `disconnect` pass as they
 * are; the protocol's bookkeeping (welcome, confirmations) is left out.
 */
export const ndjsonFraming: Framing = {
  id: 4,
  name: 'ndjson',
  reply(json) {
    const type = replyType(json)
    if (type !== undefined) return NDJSON_QUIET.has(type) ? EMPTY : Buffer.from(json + '\n')
    return Buffer.from(`{"message":${JSON.stringify(JSON.parse(json).message)}}\n`)
  },
  data(_json, _identifier, m) {
    return Buffer.from(`{"message":${m.data},"stream_id":${JSON.stringify(m.stream)},"epoch":${JSON.stringify(m.epoch)},"offset":${m.offset}}\n`)
  },
}

/**
 * Long polling's JSON Lines: every reply object whole, one per line, as on a WebSocket. Pings are
 * left out: a held poll must not be answered by a ping (AnyCable's LP client makes its own).
 */
export const jsonlFraming: Framing = {
  id: 5,
  name: 'jsonl',
  reply: (json) => (json.startsWith('{"type":"ping"') ? EMPTY : Buffer.from(json + '\n')),
  data: (json) => Buffer.from(json + '\n'),
}

/** Splits a JSON Lines body into its non-empty lines (the last newline is optional, as the LP client omits it). */
export function splitLines(text: string): string[] {
  return text.split(/\r?\n/).filter((l) => l.trim() !== '')
}
