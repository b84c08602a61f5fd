import { readFileSync } from 'node:fs'
import http from 'node:http'
import http2, { type Http2Session, type ServerHttp2Stream } from 'node:http2'
import net, { type AddressInfo, type Socket } from 'node:net'
import { HeraldConfigError } from '../config/load.js'
import type { HeraldConfig } from '../config/schema.js'
import type { Diagnostics } from '../observability/diagnostics.js'
import { refuseHttp1Connect, serveConnectStreams } from '../transport/websocket-h2.js'
import { addHttp1Handlers, createHttp1Server, handleRequest, listen, type RequestHandlerDeps } from './http-server.js'
import { setSessionState, sessionState, type H2SessionState } from '../http/immortal.js'
import { limitRequestTime } from './h2-request-timeout.js'

/** One listening address with its own TLS files and HTTP/2 options ("virtual host"). */
export interface ListenerSpec {
  name: string
  host: string
  port: number
  /** PEM file paths; both empty = cleartext (HTTP/1.1 and h2c on the same port). */
  tlsCert: string
  tlsKey: string
  /** OpenSSL cipher list for TLS ≤ 1.2; empty = Node's default. */
  tlsCiphers: string
  h2HalfClosedLongPoll: boolean
  /** Seconds (fractions allowed); 0 = off. */
  h2IdleTimeout: number
  h2PingInterval: number
  h2PingTimeout: number
  /** SETTINGS_MAX_CONCURRENT_STREAMS advertised to HTTP/2 clients. */
  h2MaxStreams: number
}

/** The main listener from the top-level options, then each entry of `listeners`. */
export function listenerSpecs(c: Readonly<HeraldConfig>): ListenerSpec[] {
  const main: ListenerSpec = {
    name: 'main', host: c.host, port: c.port, tlsCert: c.tlsCert, tlsKey: c.tlsKey, tlsCiphers: c.tlsCiphers,
    h2HalfClosedLongPoll: c.h2HalfClosedLongPoll, h2IdleTimeout: c.h2IdleTimeout,
    h2PingInterval: c.h2PingInterval, h2PingTimeout: c.h2PingTimeout, h2MaxStreams: c.h2MaxStreams,
  }
  const more = c.listeners.map((l, i): ListenerSpec => ({
    name: l.name ?? `listeners.${i}`, host: l.host ?? c.host, port: l.port,
    tlsCert: l.tlsCert, tlsKey: l.tlsKey, tlsCiphers: l.tlsCiphers, h2HalfClosedLongPoll: l.h2HalfClosedLongPoll,
    h2IdleTimeout: l.h2IdleTimeout ?? c.h2IdleTimeout,
    h2PingInterval: l.h2PingInterval ?? c.h2PingInterval,
    h2PingTimeout: l.h2PingTimeout ?? c.h2PingTimeout,
    h2MaxStreams: l.h2MaxStreams ?? c.h2MaxStreams,
  }))
  return [main, ...more]
}

/** The client's first 24 bytes on an HTTP/2 connection with prior knowledge (RFC 9113 §3.4). */
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')

interface Sniff {
  listener: Listener
  buf: Buffer
  timer: NodeJS.Timeout
}
const kSniff = Symbol('herald.sniff')
type SniffSocket = Socket & { [kSniff]?: Sniff }

function onSniffData(this: SniffSocket, chunk: Buffer): void {
  const s = this[kSniff]!
  s.buf = s.buf.length === 0 ? chunk : Buffer.concat([s.buf, chunk])
  const n = Math.min(s.buf.length, PREFACE.length)
  const h2 = s.buf.subarray(0, n).equals(PREFACE.subarray(0, n))
  if (h2 && n < PREFACE.length) return
  this.off('data', onSniffData)
  this.off('error', onSniffError)
  clearTimeout(s.timer)
  this[kSniff] = undefined
  this.pause()
  this.unshift(s.buf)
  if (h2) {
    // The http2 session takes the unshifted bytes itself.
    s.listener.h2.emit('connection', this)
  } else {
    s.listener.h1!.emit('connection', this)
    // The h1 parser reads new bytes straight from the handle; resume delivers the unshifted ones.
    this.resume()
  }
}

function onSniffError(this: SniffSocket): void {
  clearTimeout(this[kSniff]?.timer)
  this.destroy()
}

function onSniffTimeout(socket: SniffSocket): void {
  socket.destroy()
}

function onSessionIdle(this: Http2Session): void {
  // No frames for the idle timeout: GOAWAY, then the connection closes once its streams end
  // (silent ones end by their own idle timeout).
  if (this.closed || this.destroyed) return
  ;(sessionState(this) as ListenerSessionState | undefined)?.listener.diagnostics.h2Timeout('session', this.socket?.remoteAddress)
  this.close()
}

function onSessionClose(this: Http2Session): void {
  const state = sessionState(this) as ListenerSessionState | undefined
  state?.listener.sessions.delete(state)
}

function onStreamIdle(this: ServerHttp2Stream): void {
  if (this.destroyed) return
  ;(sessionState(this.session) as ListenerSessionState | undefined)?.listener.diagnostics.h2Timeout('stream', this.session?.socket?.remoteAddress)
  this.close(http2.constants.NGHTTP2_CANCEL)
}

const kListener = Symbol('herald.listener')
type TrackedSocket = Socket & { [kListener]?: Listener }

function onTrackedClose(this: TrackedSocket): void {
  this[kListener]?.sockets.delete(this)
}

interface ListenerSessionState extends H2SessionState {
  readonly listener: Listener
}

/**
 * One port that serves every transport over HTTP/1.1 and HTTP/2:
 * - TLS: one Http2SecureServer, ALPN `h2` and `http/1.1` (allowHTTP1);
 * - cleartext: a net.Server that sniffs the h2 preface and hands the socket to an http.Server or
 *   to an h2c server.
 * Both advertise SETTINGS_ENABLE_CONNECT_PROTOCOL because both serve RFC 8441 at the WebSocket
 * path (a listener that advertised it without serving CONNECT would break Chromium's WebSockets).
 * HTTP/2 streams and sessions idle for `h2IdleTimeout` are closed, except immortal streams
 * (http/immortal.ts), whose sessions are PINGed instead.
 */
export class Listener {
  readonly secure: boolean
  /** The server bound to the port. */
  readonly server: net.Server
  readonly h2: http2.Http2Server | http2.Http2SecureServer
  /** Cleartext only: the HTTP/1.1 server that sniffed non-h2 sockets go to. */
  readonly h1: http.Server | undefined
  readonly sessions = new Set<ListenerSessionState>()
  /** @internal every accepted TCP socket, destroyed if still open when the shutdown grace ends */
  readonly sockets = new Set<Socket>()
  private address: AddressInfo | undefined
  private pingTimer: NodeJS.Timeout | undefined
  /** The spec's HTTP/2 timings in milliseconds, converted once. */
  private readonly timing: { idleMs: number; pingIntervalMs: number; pingTimeoutMs: number }

  constructor(
    readonly spec: ListenerSpec,
    private readonly deps: RequestHandlerDeps,
  ) {
    const onRequest = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) =>
      void handleRequest(deps, req, res)
    this.timing = { idleMs: spec.h2IdleTimeout * 1000, pingIntervalMs: spec.h2PingInterval * 1000, pingTimeoutMs: spec.h2PingTimeout * 1000 }
    // nghttp2 refuses (RST_STREAM REFUSED_STREAM) a stream over the limit; Node's client queues them.
    const settings = { enableConnectProtocol: true, maxConcurrentStreams: spec.h2MaxStreams }
    this.secure = Boolean(spec.tlsCert)
    if (this.secure) {
      const secure = http2.createSecureServer({
        cert: readPem(spec, 'tlsCert'),
        key: readPem(spec, 'tlsKey'),
        ...(spec.tlsCiphers ? { ciphers: spec.tlsCiphers } : {}),
        minVersion: 'TLSv1.2',
        allowHTTP1: true, // ALPN: h2, then http/1.1
        settings,
      }, onRequest)
      addHttp1Handlers(secure, deps)
      // The raw TCP socket, so shutdown also reaches connections still in their TLS handshake.
      secure.on('connection', (socket: Socket) => this.track(socket))
      secure.on('tlsClientError', (err: Error) => deps.diagnostics.transportError('tls-client', err))
      this.h2 = secure
      this.server = secure
      this.h1 = undefined
    } else {
      this.h2 = http2.createServer({ settings }, onRequest)
      this.h1 = createHttp1Server(deps)
      this.h1.on('connect', (req: http.IncomingMessage, socket: Socket) => refuseHttp1Connect(deps, req, socket))
      this.server = net.createServer({ noDelay: true }, (socket: SniffSocket) => {
        this.track(socket)
        socket[kSniff] = {
          listener: this,
          buf: Buffer.alloc(0),
          // Unref'd: a silent socket must not keep a closing process alive.
          timer: setTimeout(onSniffTimeout, deps.timeouts.headersTimeout || 15_000, socket).unref(),
        }
        socket.on('data', onSniffData)
        socket.on('error', onSniffError)
      })
    }
    // HTTP/2 CONNECT on the raw stream (no compat request/response per WebSocket); what still
    // reaches 'connect' is allowHTTP1's HTTP/1.1 CONNECT on the TLS server.
    serveConnectStreams(this.h2, deps)
    this.h2.on('connect', (req: http.IncomingMessage, socket: Socket) => refuseHttp1Connect(deps, req, socket))
    this.h2.on('session', (session: Http2Session) => this.onSession(session))
    this.h2.on('sessionError', (err: Error) => deps.diagnostics.transportError('http2-session', err))
    // Before the compat layer's own listener, so a handler's stream.setTimeout(0) (ws does) wins.
    // CONNECT streams are answered at once: a WebSocket is immortal from its 200 on, a refusal
    // ends; a timer set and cleared again would stay on the stream (bench idle ws-h2: heap).
    this.h2.prependListener('stream', (stream: ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
      if (headers[':method'] === 'CONNECT') return
      if (this.idleMs > 0) {
        stream.setTimeout(this.idleMs)
        stream.on('timeout', onStreamIdle)
      }
      // --request-timeout for a request body (a CONNECT's stream is a WebSocket, exempt anyway).
      limitRequestTime(stream, deps.timeouts.requestTimeout, deps.diagnostics)
    })
  }

  get diagnostics(): Diagnostics {
    return this.deps.diagnostics
  }

  /** Open HTTP/2 connections and their immortal streams (for stats). */
  h2Counts(): { sessions: number; immortalStreams: number } {
    let immortalStreams = 0
    for (const state of this.sessions) immortalStreams += state.immortal
    return { sessions: this.sessions.size, immortalStreams }
  }

  get idleMs(): number {
    return this.timing.idleMs
  }

  /** `http://host:port` or `https://…`, once listening. */
  get url(): string {
    if (!this.address) throw new Error('not listening')
    const host = this.address.family === 'IPv6' ? `[${this.address.address}]` : this.address.address
    return `${this.secure ? 'https' : 'http'}://${host}:${this.address.port}`
  }

  async listen(): Promise<AddressInfo> {
    // The h1 server never listens itself; 'listening' starts its connection tracking, without
    // which headersTimeout/requestTimeout are not enforced and closeIdleConnections does nothing.
    this.h1?.emit('listening')
    this.address = await listen(this.server as http.Server, this.spec.host, this.spec.port)
    const { pingIntervalMs, pingTimeoutMs } = this.timing
    if (pingIntervalMs > 0 && pingTimeoutMs > 0) {
      const tick = Math.max(10, Math.min(pingIntervalMs, pingTimeoutMs) / 2)
      this.pingTimer = setInterval(() => this.pingHeldSessions(Date.now()), tick)
      this.pingTimer.unref()
    }
    return this.address
  }

  /**
   * Stops accepting, sends GOAWAY to every HTTP/2 connection and closes idle HTTP/1.1 ones;
   * whatever is still open after `graceMs` is destroyed.
   */
  async close(graceMs: number): Promise<void> {
    clearInterval(this.pingTimer)
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()))
    for (const state of this.sessions) if (!state.session.closed) state.session.close()
    // Idle HTTP/1.1 keep-alive sockets close now. The TLS server's allowHTTP1 fallback tracks its
    // connections like an http.Server but lacks the method, hence the borrowed one.
    http.Server.prototype.closeIdleConnections.call(this.h1 ?? this.server as http.Server)
    const timer = setTimeout(() => {
      for (const state of this.sessions) state.session.destroy()
      for (const socket of this.sockets) socket.destroy()
    }, graceMs)
    await closed
    clearTimeout(timer)
    // Stops the h1 server's connection-checking interval (it never listened: the callback's
    // ERR_SERVER_NOT_RUNNING is expected).
    this.h1?.close(() => {})
  }

  private track(socket: TrackedSocket): void {
    this.sockets.add(socket)
    socket[kListener] = this
    // 'close' fires once: `on` with a module-level function holds nothing per connection, where
    // `once` holds a wrapper and its state (bench idle ws-h2: heap per connection).
    socket.on('close', onTrackedClose)
  }

  private onSession(session: Http2Session): void {
    const state: ListenerSessionState = {
      listener: this,
      session,
      halfClosedLongPoll: this.spec.h2HalfClosedLongPoll,
      idleMs: this.idleMs,
      immortal: 0,
      pingSentAt: 0,
      lastPingAt: 0,
    }
    setSessionState(session, state)
    this.sessions.add(state)
    session.on('close', onSessionClose)
    if (state.idleMs > 0) {
      session.on('timeout', onSessionIdle)
      session.setTimeout(state.idleMs)
    }
  }

  /**
   * Liveness for connections exempt from the idle timeout: a PING every `h2PingInterval`; one
   * unanswered for `h2PingTimeout` closes the connection and so frees its streams.
   */
  private pingHeldSessions(now: number): void {
    const { pingIntervalMs: intervalMs, pingTimeoutMs: timeoutMs } = this.timing
    for (const state of this.sessions) {
      const session = state.session
      if (state.immortal === 0 || session.destroyed || session.closed) continue
      if (state.pingSentAt > 0) {
        if (now - state.pingSentAt < timeoutMs) continue
        this.diagnostics.h2Timeout('ping', session.socket?.remoteAddress)
        session.destroy()
        continue
      }
      if (now - state.lastPingAt < intervalMs) continue
      state.pingSentAt = state.lastPingAt = now
      session.ping((err) => {
        if (!err) state.pingSentAt = 0
      })
    }
  }
}

function readPem(spec: ListenerSpec, key: 'tlsCert' | 'tlsKey'): Buffer {
  try {
    return readFileSync(spec[key])
  } catch (err) {
    const where = spec.name === 'main' ? key : `${spec.name}.${key}`
    throw new HeraldConfigError([`${where}: cannot read ${spec[key]}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`])
  }
}
