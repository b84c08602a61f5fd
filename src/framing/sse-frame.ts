import type { StreamMessage } from '../protocol/messages.js'
import type { Framing } from '../core/wire.js'

/** `retry:` for a final disconnect that must not be retried: a year, as AnyCable's sse/encoder.go. */
export const SSE_NO_RETRY_MS = 31_536_000_000

const LINE_BREAK = /\r\n|\r|\n/
const EMPTY = Buffer.alloc(0)

export interface SseEvent {
  event?: string
  /** Text of the event; every line becomes its own `data:` line (WHATWG HTML §9.2.6). */
  data: string
  id?: string
  retry?: number
}

/** One SSE event. `event` and `id` may not hold CR or LF (they would end the field early), so such values are left out. */
export function sseEvent(e: SseEvent): string {
  let out = ''
  if (e.event && !/[\r\n]/.test(e.event)) out += `event: ${e.event}\n`
  for (const line of e.data.split(LINE_BREAK)) out += `data: ${line}\n`
  if (e.id && !/[\r\n]/.test(e.id)) out += `id: ${e.id}\n`
  if (e.retry !== undefined) out += `retry: ${e.retry}\n`
  return out + '\n'
}

/** AnyCable's event id: `<offset>/<epoch>/<stream>` (sse/encoder.go writes this order). */
export function sseId(m: StreamMessage): string {
  return `${m.offset}/${m.epoch}/${m.stream}`
}

/** Parses a Last-Event-ID; splits on the first two `/` only, so the stream name may hold `/`. */
export function parseSseId(value: string): { offset: number; epoch: string; stream: string } | undefined {
  const m = /^(\d+)\/([^/]+)\/(.+)$/s.exec(value.trim())
  if (!m) return undefined
  const offset = Number(m[1])
  return Number.isSafeInteger(offset) ? { offset, epoch: m[2], stream: m[3] } : undefined
}

/** The `type` of a reply built by protocol/messages.ts (`{"type":"…"` first), or undefined for data. */
export function replyType(json: string): string | undefined {
  return /^\{"type":"([a-z_]+)"/.exec(json)?.[1]
}

/** GET wants only the `message` value; a string message is written raw (AnyCable sse/encoder.go). */
function messageText(messageJson: string): string {
  return messageJson.charCodeAt(0) === 0x22 /* " */ ? (JSON.parse(messageJson) as string) : messageJson
}

function controlEvent(type: string, json: string): Buffer {
  // A disconnect that says "do not reconnect" also tells EventSource not to: a year's retry.
  const retry = type === 'disconnect' && json.includes('"reconnect":false') ? SSE_NO_RETRY_MS : undefined
  return Buffer.from(sseEvent({ event: type, data: json, retry }))
}

/**
 * SSE framings, each with its own cache slot. `sse` (GET /events): control replies as named
 * events, data as the bare message with `id:`. `sse-full` (POST /events): every reply object
 * whole. `sse-job` (/jobs/:id/events): like `sse`, minus the protocol's bookkeeping (welcome,
 * confirmations), so the job's snapshot is the first event.
 */
function sseFraming(id: number, name: string, full: boolean, quiet: ReadonlySet<string>): Framing {
  return {
    id,
    name,
    reply(json) {
      const type = replyType(json)
      if (type !== undefined) return quiet.has(type) ? EMPTY : controlEvent(type, json)
      if (full) return Buffer.from(sseEvent({ data: json }))
      return Buffer.from(sseEvent({ data: messageText(JSON.stringify(JSON.parse(json).message)) }))
    },
    data(json, _identifier, m) {
      return Buffer.from(sseEvent({ data: full ? json : messageText(m.data), id: sseId(m) }))
    },
  }
}

const NONE = new Set<string>()
export const sseFramingGet = sseFraming(1, 'sse', false, NONE)
export const sseFramingFull = sseFraming(2, 'sse-full', true, NONE)
export const sseFramingJob = sseFraming(3, 'sse-job', false, new Set(['welcome', 'confirm_subscription', 'confirm_history', 'reject_history', 'pong']))
