import { Http2ServerRequest, type Http2Session, type ServerHttp2Stream } from 'node:http2'
import type { HttpRequest } from './body.js'

/**
 * "Immortal" HTTP/2 streams, after libwebsockets' h2 long poll (docs/node-notes.md §3): on a
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
  /** Immortal streams of this session. */
  immortal: number
  /** When the PING now in flight was sent (0 = none in flight). */
  pingSentAt: number
  lastPingAt: number
}

const kState = Symbol('herald.h2.session')
const kImmortal = Symbol('herald.h2.immortal')
type TaggedSession = Http2Session & { [kState]?: H2SessionState }
type TaggedStream = ServerHttp2Stream & { [kImmortal]?: H2SessionState }

export function setSessionState(session: Http2Session, state: H2SessionState): void {
  (session as TaggedSession)[kState] = state
}

export function sessionState(session: Http2Session | undefined): H2SessionState | undefined {
  return session ? (session as TaggedSession)[kState] : undefined
}

/** Has this stream been exempted from the idle timeouts? */
export function isImmortal(stream: ServerHttp2Stream): boolean {
  return (stream as TaggedStream)[kImmortal] !== undefined
}

/**
 * Exempts one stream, and its session while the stream lives, from the idle timeouts, whatever
 * the listener's option (WebSocket streams use this: they have their own pings). Idempotent.
 */
export function makeStreamImmortal(stream: ServerHttp2Stream): boolean {
  const tagged = stream as TaggedStream
  const state = sessionState(stream.session)
  if (!state || tagged[kImmortal] || stream.destroyed || stream.closed) return false
  tagged[kImmortal] = state
  stream.setTimeout(0)
  // 0→1: no session timeout while an immortal stream lives (docs/node-notes.md §3).
  if (state.immortal++ === 0) {
    state.session.setTimeout(0)
    state.lastPingAt = Date.now()
  }
  stream.on('close', onImmortalStreamClose) // fires once; `on` holds no per-stream wrapper
  return true
}

function onImmortalStreamClose(this: TaggedStream): void {
  const state = this[kImmortal]
  if (!state) return
  if (--state.immortal > 0) return
  state.pingSentAt = 0
  // Back to 0: the idle timeout again. No callback here: the one given when the session was
  // accepted is still attached, and a second would fire twice (docs/node-notes.md §3).
  if (!state.session.destroyed && !state.session.closed && state.idleMs > 0) state.session.setTimeout(state.idleMs)
}

function onHalfClosed(this: ServerHttp2Stream): void {
  makeStreamImmortal(this)
}

/**
 * Makes the response to `req` immortal: one that stays open longer than any request (SSE,
 * HTTP streaming, held polls, a custom streaming route). HTTP/1.1: the socket inactivity timeout
 * is lifted (docs/node-notes.md §3: a non-zero `server.timeout` would cut a silent response;
 * requestTimeout only covers receiving the request, so it never cuts a held answer). HTTP/2 on a
 * listener with `h2HalfClosedLongPoll`: the stream becomes immortal once the client has
 * half-closed it (now, or when its END_STREAM arrives); elsewhere an HTTP/2 stream keeps its
 * idle timeout, which the transports' heartbeats refresh.
 */
export function makeImmortal(req: HttpRequest): void {
  if (!(req instanceof Http2ServerRequest)) {
    req.socket?.setTimeout(0)
    return
  }
  const stream = req.stream
  const state = sessionState(stream.session)
  if (!state?.halfClosedLongPoll || isImmortal(stream)) return
  if (stream.endAfterHeaders || stream.readableEnded || req.complete) {
    makeStreamImmortal(stream)
    return
  }
  stream.on('end', onHalfClosed)
  // Nobody reads a GET's (empty) body; flowing lets its END_STREAM be seen.
  if (req.method === 'GET' || req.method === 'HEAD') req.resume()
}
