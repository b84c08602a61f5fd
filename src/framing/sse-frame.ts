import type { Reply, ReplyType, StreamMessage } from '../protocol/messages.js'
import { defineFraming, EMPTY_FRAME, type Framing } from './framing.js'

/** `retry:` for a final disconnect that must not be retried: a year, as AnyCable's sse/encoder.go. */
export const SSE_NO_RETRY_MS = 31_536_000_000

const LINE_BREAK = /\r\n|\r|\n/

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

/** GET wants only the `message` value; a string message is written raw (AnyCable sse/encoder.go). */
function messageText(messageJson: string): string {
  return messageJson.charCodeAt(0) === 0x22 /* " */ ? (JSON.parse(messageJson) as string) : messageJson
}

/** A reply as a named event; a disconnect that says "do not reconnect" tells EventSource so too, with a year's retry. */
function controlEvent(reply: Reply): Buffer {
  const retry = reply.type === 'disconnect' && !reply.reconnect ? SSE_NO_RETRY_MS : undefined
  return Buffer.from(sseEvent({ event: reply.type, data: reply.json, retry }))
}

/**
 * SSE framings. `sse` (GET /events): replies as named events, data as the bare message with
 * `id:`. `sse-full` (POST /events): every reply object whole. `sse-job` (/jobs/:id/events):
 * like `sse`, minus the protocol's bookkeeping (welcome, confirmations), so the job's snapshot
 * is the first event.
 */
function sseFraming(name: string, full: boolean, quiet: ReadonlySet<ReplyType>): Framing {
  return defineFraming({
    name,
    reply: (reply) => (quiet.has(reply.type) ? EMPTY_FRAME : controlEvent(reply)),
    transmit(identifier, message) {
      const data = full ? `{"identifier":${JSON.stringify(identifier)},"message":${message}}` : messageText(message)
      return Buffer.from(sseEvent({ data }))
    },
    data: (p) => Buffer.from(sseEvent({ data: full ? p.json() : messageText(p.message.data), id: sseId(p.message) })),
  })
}

export const sseFramingGet = sseFraming('sse', false, new Set())
export const sseFramingFull = sseFraming('sse-full', true, new Set())
export const sseFramingJob = sseFraming('sse-job', false, new Set(['welcome', 'confirm_subscription', 'confirm_history', 'reject_history', 'pong']))
