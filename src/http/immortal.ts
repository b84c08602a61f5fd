import { Http2ServerRequest, type Http2Session, type ServerHttp2Stream } from 'node:http2'
import type { HttpRequest } from './body.js'

/**
 * "Immortal" HTTP/2 streams, after libwebsockets' h2 long poll (README.h2-long-poll.md): on a
 * listener with `h2HalfClosedLongPoll`, a streaming response whose client has half-closed its
 * stream (END_STREAM on a GET's HEADERS, after a POST's body, or as an empty DATA frame) is
 * exempt from the stream idle timeout, and its session from the session idle timeout while at
 * least one such stream lives. Liveness then comes from HTTP/2 PINGs (server/listeners.ts).
 */
export interface H2SessionState {
  readonly session: Http2Session
  /** The listener's option: may half-closed streaming responses become immortal? */
  readonly halfClosedLongPoll: boolean
  /** Session and stream idle timeout, ms (0 = none). */
  readonly idleMs: number
  /** Streams of this session exempt from the idle timeouts. */
  held: number
  /** When the PING now in flight was sent (0 = none in flight). */
  pingSentAt: number
  lastPingAt: number
  /** Counts held streams (herald_h2_immortal_streams). */
  readonly heldGauge?: { inc(): void; dec(): void }
}

const kState = Symbol('herald.h2.session')
const kHeld = Symbol('herald.h2.held')
type TaggedSession = Http2Session & { [kState]?: H2SessionState }
type TaggedStream = ServerHttp2Stream & { [kHeld]?: H2SessionState }

export function setSessionState(session: Http2Session, state: H2SessionState): void {
  (session as TaggedSession)[kState] = state
}

export function sessionState(session: Http2Session | undefined): H2SessionState | undefined {
  return session ? (session as TaggedSession)[kState] : undefined
}

/** Has this stream been exempted from the idle timeouts? */
export function isHeld(stream: ServerHttp2Stream): boolean {
  return (stream as TaggedStream)[kHeld] !== undefined
}

/**
 * Exempts one stream, and its session while the stream lives, from the idle timeouts, whatever
 * the listener's option (WebSocket streams use this: they have their own pings). Idempotent.
 */
export function holdStream(stream: ServerHttp2Stream): boolean {
  const tagged = stream as TaggedStream
  const state = sessionState(stream.session)
  if (!state || tagged[kHeld] || stream.destroyed || stream.closed) return false
  tagged[kHeld] = state
  state.heldGauge?.inc()
  stream.setTimeout(0)
  // 0→1: no session timeout while an immortal stream lives (node-platform-notes §3).
  if (state.held++ === 0) {
    state.session.setTimeout(0)
    state.lastPingAt = Date.now()
  }
  stream.once('close', onHeldStreamClose)
  return true
}

function onHeldStreamClose(this: TaggedStream): void {
  const state = this[kHeld]
  if (!state) return
  state.heldGauge?.dec()
  if (--state.held > 0) return
  state.pingSentAt = 0
  // Back to 0: the idle timeout again. No callback here: the one given when the session was
  // accepted is still attached, and a second would fire twice (node-platform-notes §3).
  if (!state.session.destroyed && !state.session.closed && state.idleMs > 0) state.session.setTimeout(state.idleMs)
}

function onHalfClosed(this: ServerHttp2Stream): void {
  holdStream(this)
}

/**
 * Called by streaming transports (SSE, HTTP streaming, held long polls) for the request they
 * answer with a long-lived response. Over HTTP/2 on a listener with `h2HalfClosedLongPoll`, the
 * stream becomes immortal once the client has half-closed it (now, or when its END_STREAM
 * arrives). Elsewhere the normal timeouts stay: HTTP/1.1 has no idle timeout on an in-flight
 * response (server.timeout is 0, requestTimeout covers only the request), and an HTTP/2 stream
 * keeps its idle timeout, which the transports' heartbeats refresh.
 */
export function markLongLived(req: HttpRequest): void {
  if (!(req instanceof Http2ServerRequest)) return
  const stream = req.stream
  const state = sessionState(stream.session)
  if (!state?.halfClosedLongPoll || isHeld(stream)) return
  if (stream.endAfterHeaders || stream.readableEnded || req.complete) {
    holdStream(stream)
    return
  }
  stream.once('end', onHalfClosed)
  // Nobody reads a GET's (empty) body; flowing lets its END_STREAM be seen.
  if (req.method === 'GET' || req.method === 'HEAD') req.resume()
}
