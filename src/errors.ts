/**
 * The catalogue of Herald's coded errors. Each has an HTTP status (for HTTP transports and APIs)
 * and, where it can end a WebSocket, a close code. docs/errors.md lists the same codes and a test
 * checks both directions.
 */
export const ERRORS = {
  HERALD_ERR_BAD_JSON: { status: 400, message: 'body is not valid JSON' },
  HERALD_ERR_BAD_REQUEST: { status: 400, message: 'request has the wrong shape' },
  HERALD_ERR_JSON_TOO_DEEP: { status: 400, closeCode: 1008, message: 'JSON nested too deep' },
  HERALD_ERR_INVALID_UTF8: { status: 400, closeCode: 1007, message: 'text is not valid UTF-8' },
  HERALD_ERR_UNKNOWN_JOB_TYPE: { status: 400, message: 'unknown job type' },
  HERALD_ERR_UNAUTHORIZED: { status: 401, message: 'missing or wrong credentials' },
  HERALD_ERR_FORBIDDEN_ORIGIN: { status: 403, message: 'origin not allowed' },
  HERALD_ERR_NOT_FOUND: { status: 404, message: 'not found' },
  HERALD_ERR_METHOD_NOT_ALLOWED: { status: 405, message: 'method not allowed' },
  HERALD_ERR_JOB_FINISHED: { status: 409, message: 'job has already finished' },
  HERALD_ERR_HISTORY_GONE: { status: 410, message: 'the position cannot be resumed from the kept history' },
  HERALD_ERR_SESSION_EXPIRED: { status: 401, message: 'long-poll session expired or unknown' },
  HERALD_ERR_REQUEST_TIMEOUT: { status: 408, message: 'the request was not received within --request-timeout' },
  HERALD_ERR_BODY_TOO_LARGE: { status: 413, message: 'body exceeds the size limit' },
  HERALD_ERR_RATE_LIMITED: { status: 429, closeCode: 1008, message: 'too many requests' },
  HERALD_ERR_REQUEST_ABORTED: { status: 400, message: 'the request ended before its body was complete' },
  HERALD_ERR_TOO_MANY_SESSIONS: { status: 503, message: 'session limit reached' },
  HERALD_ERR_TOO_MANY_JOBS: { status: 503, message: 'running-jobs limit of this node reached' },
  HERALD_ERR_JOB_REPORT_TIMEOUT: { status: 504, message: 'no report from the job\'s worker in time' },
  HERALD_ERR_BROKER_UNAVAILABLE: { status: 503, message: 'the broker cannot be reached' },
  HERALD_ERR_MESSAGE_TOO_BIG: { status: 413, closeCode: 1009, message: 'message exceeds the size limit' },
  HERALD_ERR_TOO_MANY_FRAGMENTS: { status: 400, closeCode: 1008, message: 'message split into too many fragments' },
  HERALD_ERR_PING_FLOOD: { status: 400, message: 'too many pings left unanswered by a peer that does not read' },
  HERALD_ERR_BINARY_FRAME: { status: 400, closeCode: 1003, message: 'binary frames are not supported' },
  HERALD_ERR_BAD_FRAME: { status: 400, closeCode: 1002, message: 'malformed WebSocket frame' },
  HERALD_ERR_BAD_COMMAND: { status: 400, closeCode: 1008, message: 'malformed protocol command' },
  HERALD_ERR_SUBSCRIPTION_REJECTED: { status: 400, message: 'subscription rejected' },
  HERALD_ERR_TOO_SLOW: { status: 503, closeCode: 1013, message: 'reader fell behind its outbox budget' },
  HERALD_ERR_INTERNAL: { status: 500, closeCode: 1011, message: 'internal error' },
} as const satisfies Record<string, { status: number; closeCode?: number; message: string }>

export type ErrorCode = keyof typeof ERRORS

const kHeraldError = Symbol.for('herald.error')

export class HeraldError extends Error {
  readonly code: ErrorCode
  readonly status: number
  readonly closeCode: number | undefined
  /** Seconds a client should wait before trying again (a `Retry-After` header), for limits that pass. */
  readonly retryAfterSec: number | undefined
  readonly [kHeraldError] = true

  constructor(code: ErrorCode, detail?: string, options?: ErrorOptions & { retryAfterSec?: number }) {
    const entry = ERRORS[code]
    super(detail ? `${entry.message}: ${detail}` : entry.message, options)
    this.name = 'HeraldError'
    this.code = code
    this.status = entry.status
    this.closeCode = 'closeCode' in entry ? entry.closeCode : undefined
    this.retryAfterSec = options?.retryAfterSec
  }

  /** Works across duplicate installs, where `instanceof` would not. */
  static is(value: unknown): value is HeraldError {
    return typeof value === 'object' && value !== null && (value as any)[kHeraldError] === true
  }
}
