import { DEFAULT_MAX_JSON_DEPTH, jsonTooDeep } from './json-depth.js'

/**
 * AnyCable's extended Action Cable vocabulary (see docs/protocol.md).
 * Pure types and string builders: no I/O and no node: imports, so a client can share them.
 */

export const PROTOCOL_BASE = 'actioncable-v1-json'
export const PROTOCOL_EXT = 'actioncable-v1-ext-json'
export const SUPPORTED_PROTOCOLS = [PROTOCOL_EXT, PROTOCOL_BASE] as const

/** A position in one stream's history: `offset` counts from 1, `epoch` names the history's life. */
export interface StreamPosition {
  readonly offset: number
  readonly epoch: string
}

export interface HistoryRequest {
  /** Unix seconds: messages at or after it, for streams without a position. */
  readonly since?: number
  readonly streams?: Readonly<Record<string, StreamPosition>>
}

export type Command =
  | { command: 'subscribe'; identifier: string; history?: HistoryRequest }
  | { command: 'unsubscribe'; identifier: string }
  | { command: 'message'; identifier: string; data: string }
  | { command: 'history'; identifier: string; history: HistoryRequest }
  | { command: 'whisper'; identifier: string; data: unknown }
  | { command: 'pong' }
  | { command: 'ping' }

/** One published message as the broker stored it. `data` is JSON text, already canonical. */
export interface StreamMessage {
  readonly stream: string
  readonly data: string
  readonly offset: number
  readonly epoch: string
  /** Unix milliseconds when the broker accepted it. */
  readonly at: number
}

const q = JSON.stringify

/** The `type` of every protocol reply the server sends (data messages have none). */
export type ReplyType =
  | 'welcome' | 'ping' | 'pong' | 'disconnect'
  | 'confirm_subscription' | 'reject_subscription' | 'confirm_history' | 'reject_history'

/**
 * One protocol reply: its type, so a framing can decide without reading the text, and its JSON
 * text, for framings that send whole replies. A disconnect also says whether to come back.
 */
export type Reply =
  | { readonly type: Exclude<ReplyType, 'disconnect'>; readonly json: string }
  | { readonly type: 'disconnect'; readonly json: string; readonly reconnect: boolean }

const reply = (type: Exclude<ReplyType, 'disconnect'>, json: string): Reply => ({ type, json })

export const replies = {
  welcome(sid: string, restoredIds?: readonly string[]): Reply {
    return reply('welcome', restoredIds
      ? `{"type":"welcome","sid":${q(sid)},"restored":true,"restored_ids":${q(restoredIds)}}`
      : `{"type":"welcome","sid":${q(sid)}}`)
  },
  ping(unixSeconds: number): Reply {
    return reply('ping', `{"type":"ping","message":${unixSeconds}}`)
  },
  pong(): Reply {
    return PONG
  },
  confirm(identifier: string): Reply {
    return reply('confirm_subscription', `{"type":"confirm_subscription","identifier":${q(identifier)}}`)
  },
  /** `reason` is Herald's addition (clients ignore fields they do not know): why it was refused. */
  reject(identifier: string, reason?: string): Reply {
    const why = reason === undefined ? '' : `,"reason":${q(reason)}`
    return reply('reject_subscription', `{"type":"reject_subscription","identifier":${q(identifier)}${why}}`)
  },
  confirmHistory(identifier: string): Reply {
    return reply('confirm_history', `{"type":"confirm_history","identifier":${q(identifier)}}`)
  },
  rejectHistory(identifier: string): Reply {
    return reply('reject_history', `{"type":"reject_history","identifier":${q(identifier)}}`)
  },
  disconnect(reason: string, reconnect: boolean): Reply {
    return { type: 'disconnect', json: `{"type":"disconnect","reason":${q(reason)},"reconnect":${reconnect}}`, reconnect }
  },
  /** A data message without a position (a transmission, e.g. a job snapshot). `message` is JSON text. */
  transmit(identifier: string, message: string): string {
    return `{"identifier":${q(identifier)},"message":${message}}`
  },
  /**
   * The start of every `data` reply for one identifier. Quoting the identifier (an escaped JSON
   * object) was half the cost of a data reply, so the hub keeps this per subscription (bench jobs).
   */
  dataHead(identifier: string): string {
    return `{"identifier":${q(identifier)},"message":`
  },
  /** A broadcast with its position (so ext clients can resume after it), after its `dataHead`. */
  dataAfter(head: string, m: StreamMessage): string {
    return `${head}${m.data},"stream_id":${q(m.stream)},"epoch":${q(m.epoch)},"offset":${m.offset}}`
  },
}

const PONG = reply('pong', '{"type":"pong"}')

/**
 * Broadcast `data` is a string per AnyCable: if it parses as JSON (and is not null) the message is
 * that value, else the string itself. Returned as one-line JSON text, computed once per publish.
 * JSON text already on one line is kept as the publisher wrote it (its number forms, big
 * integers' digits and spacing included, as AnyCable passes it on); only text with a line break
 * is written again from its value, since SSE and NDJSON frames are one line each. Skipping that
 * re-serialisation saved about 1 µs per publication (bench jobs).
 */
export function canonicalData(data: unknown, maxDepth = DEFAULT_MAX_JSON_DEPTH): string {
  if (typeof data !== 'string') return JSON.stringify(data ?? null)
  // A JSON string nested too deep is refused, not stored: see json-depth.ts.
  if (jsonTooDeep(data, maxDepth)) throw new JsonTooDeep(maxDepth)
  let parsed: unknown
  try {
    parsed = JSON.parse(data)
  } catch {
    // not JSON: the raw string is the message
    return JSON.stringify(data)
  }
  if (parsed === null) return JSON.stringify(data)
  // JSON's only line breaks outside strings are whitespace (inside a string they are escaped).
  return data.indexOf('\n') === -1 && data.indexOf('\r') === -1 ? data : JSON.stringify(parsed)
}

/** JSON nested deeper than the limit (`--max-json-depth`); the APIs answer it with 400. */
export class JsonTooDeep extends Error {
  constructor(readonly limit: number) {
    super(`JSON nested deeper than ${limit} levels (--max-json-depth)`)
    this.name = 'JsonTooDeep'
  }
}
