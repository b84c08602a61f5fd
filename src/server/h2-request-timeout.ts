import http2, { type ServerHttp2Stream } from 'node:http2'
import { ERRORS } from '../errors.js'
import { isImmortal } from '../http/immortal.js'
import type { Diagnostics } from '../observability/diagnostics.js'

const kTimer = Symbol('herald.h2.request-timer')
const kDiagnostics = Symbol('herald.h2.diagnostics')
type TimedStream = ServerHttp2Stream & { [kTimer]?: NodeJS.Timeout; [kDiagnostics]?: Diagnostics }

const BODY = JSON.stringify({ error: { code: 'HERALD_ERR_REQUEST_TIMEOUT', message: ERRORS.HERALD_ERR_REQUEST_TIMEOUT.message } })

/**
 * HTTP/1.1's `--request-timeout` for HTTP/2 requests with a body: a stream whose body has not
 * fully arrived `timeoutMs` after its headers is answered 408 (then reset with NO_ERROR, RFC 9113
 * §8.1, so the client stops sending), or, if its response has begun, reset with CANCEL. A
 * request without a body (END_STREAM on its HEADERS) is complete at once, and an immortal stream
 * (a WebSocket, a half-closed long poll: http/immortal.ts) is exempt, as designed. Headers come in
 * one HEADERS block that nghttp2 bounds; a connection that dawdles over it meets the idle timeout.
 */
export function limitRequestTime(stream: ServerHttp2Stream, timeoutMs: number, diagnostics: Diagnostics): void {
  if (timeoutMs <= 0 || stream.endAfterHeaders) return
  const timed = stream as TimedStream
  timed[kDiagnostics] = diagnostics
  timed[kTimer] = setTimeout(onRequestTimeout, timeoutMs, timed)
  timed[kTimer].unref()
  // Each fires once and clearing is idempotent: `on` holds no per-stream once-wrapper.
  stream.on('end', clearRequestTimer)
  stream.on('close', clearRequestTimer)
}

function clearRequestTimer(this: TimedStream): void {
  clearTimeout(this[kTimer])
  this[kTimer] = undefined
}

function onRequestTimeout(stream: TimedStream): void {
  stream[kTimer] = undefined
  if (stream.destroyed || stream.closed || stream.readableEnded || isImmortal(stream)) return
  stream[kDiagnostics]?.h2Timeout('request', stream.session?.socket?.remoteAddress)
  if (stream.headersSent) {
    stream.close(http2.constants.NGHTTP2_CANCEL)
    return
  }
  stream.respond({ ':status': 408, 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(BODY)), 'cache-control': 'no-store' })
  stream.end(BODY, () => {
    if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_NO_ERROR)
  })
}
