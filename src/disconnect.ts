import { replies, type Reply } from './protocol/messages.js'

/**
 * Every reason Herald ends a client session, once, with its reconnect verdict.
 * One value maps to the AnyCable `disconnect` message, the WebSocket close frame (reason ≤ 123
 * bytes), the SSE final event and the long-poll status.
 */
export interface Disconnect {
  /** AnyCable's `reason` string. */
  readonly reason: string
  readonly reconnect: boolean
  /** WebSocket close code. */
  readonly closeCode: number
  /** HTTP status for transports that answer a request with it (long poll). */
  readonly httpStatus: number
  /** The AnyCable wire form: `{"type":"disconnect","reason":…,"reconnect":…}`. */
  readonly reply: Reply
}

const d = (reason: string, reconnect: boolean, closeCode: number, httpStatus = 200): Disconnect =>
  Object.freeze({ reason, reconnect, closeCode, httpStatus, reply: replies.disconnect(reason, reconnect) })

export const Disconnects = Object.freeze({
  /** Server shutting down or restarting: come back later. */
  shutdown: d('server_restart', true, 1001),
  /** The client asked to close. */
  normal: d('closed', true, 1000),
  unauthorized: d('unauthorized', false, 1000, 401),
  /** A reader that fell behind its outbox budget (centrifuge's DisconnectSlow). */
  slow: d('too_slow', true, 1013),
  idle: d('idle_timeout', false, 1000),
  lifetime: d('max_lifetime', true, 1000),
  noPong: d('no_pong', true, 1000),
  invalidCommand: d('invalid_command', false, 1008),
  /** A WebSocket frame that breaks RFC 6455 (unmasked, bad opcode, bad close code…). */
  protocolError: d('protocol_error', false, 1002),
  messageTooBig: d('message_too_big', false, 1009),
  /** A message of more fragments than ws allows (16,384), or too many buffered parts. */
  tooManyFragments: d('too_many_fragments', false, 1008),
  /** More pings than ws will queue pongs for (60) from a peer that reads none: dropped without a close frame. */
  pingFlood: d('ping_flood', false, 1008),
  invalidUtf8: d('invalid_utf8', false, 1007),
  binaryFrame: d('unsupported_data', false, 1003),
  /** More commands a second than --rate-commands-per-connection: come back, slower. */
  rateLimited: d('rate_limited', true, 1008),
  /** Long polling: the session was not polled within the keepalive timeout. */
  sessionExpired: d('session_expired', false, 1000, 401),
  remote: d('remote', false, 1000),
  /** The stream the wire was opened for has ended (a job's final event): nothing more will come. */
  complete: d('complete', false, 1000),
  internal: d('internal_error', true, 1011),
})

export type DisconnectName = keyof typeof Disconnects
