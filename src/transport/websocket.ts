import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'
import type { Connection } from '../core/connection.js'
import type { Core } from '../core/core.js'
import type { TransportName, Wire, WireInfo, WireRequest } from '../core/wire.js'
import { Disconnects, type Disconnect } from '../disconnect.js'
import type { ErrorCode } from '../errors.js'
import { wsDeflateFraming } from '../framing/ws-deflate.js'
import type { Framing } from '../framing/framing.js'
import { wsFraming } from '../framing/ws-frame.js'
import { abortHandshake } from '../http/handshake.js'
import type { OriginPolicy } from '../http/origin.js'
import type { Diagnostics } from '../observability/diagnostics.js'
import { PROTOCOL_EXT, SUPPORTED_PROTOCOLS } from '../protocol/messages.js'
import { DEFLATE_OPTIONS, deflateParams, usableOffers, type DeflateParams } from './ws-deflate.js'

export interface WebSocketOptions {
  path: string
  maxMessageSize: number
  ignoreEncodingErrors: boolean
  /** Negotiate permessage-deflate (`--ws-compression`); see ws-deflate.ts. */
  compression: boolean
  /** TCP keepalive idle time before the first probe, ms (0 = off). */
  kaTimeMs: number
  origins: OriginPolicy
}

const kConn = Symbol('herald.connection')
const kTransport = Symbol('herald.ws-transport')
type Tagged<T> = T & { [kConn]?: Connection; [kTransport]?: WebSocketTransport }

/**
 * ws error codes → Herald's error code and the disconnect the peer was sent (ws closes with the
 * same code). Every other WS_ERR_* is a frame that breaks RFC 6455: 1002 `protocol_error`.
 */
const WS_ERRORS: Record<string, [ErrorCode, Disconnect]> = {
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: ['HERALD_ERR_MESSAGE_TOO_BIG', Disconnects.messageTooBig],
  // A length header over 2^53 - 1 (say 2^63): ws closes 1009, as for a message over maxPayload.
  WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH: ['HERALD_ERR_MESSAGE_TOO_BIG', Disconnects.messageTooBig],
  // More than maxFragments (16,384) fragments in one message, or too many buffered parts: 1008.
  WS_ERR_TOO_MANY_BUFFERED_PARTS: ['HERALD_ERR_TOO_MANY_FRAGMENTS', Disconnects.tooManyFragments],
  WS_ERR_INVALID_UTF8: ['HERALD_ERR_INVALID_UTF8', Disconnects.invalidUtf8],
}

const infoFor = (transport: TransportName, httpVersion: '1.1' | '2', extended: boolean, framing: Framing): WireInfo =>
  Object.freeze({ transport, httpVersion, bidirectional: true, framing, extended, restorable: true })
/** Shared, frozen wire facts by transport, protocol and framing: nothing per connection. */
const INFO = new Map<string, WireInfo>()
function infoOf(transport: 'ws' | 'ws-h2', httpVersion: '1.1' | '2', extended: boolean, deflate: DeflateParams | undefined): WireInfo {
  const key = `${transport}:${extended ? 'ext' : 'base'}:${deflate ? `${deflate.windowBits}${deflate.contextTakeover ? '+' : ''}` : 0}`
  let info = INFO.get(key)
  if (!info) INFO.set(key, (info = infoFor(transport, httpVersion, extended, deflate === undefined ? wsFraming : wsDeflateFraming(deflate.windowBits, deflate.contextTakeover))))
  return info
}

/** One WebSocket as a Wire: frames prepared by the hub are written raw to the socket. */
class WebSocketWire implements Wire {
  /** The connection this wire feeds; set once the core has made it. */
  conn: Connection | undefined = undefined

  constructor(
    readonly info: WireInfo,
    private readonly ws: WebSocket,
    private readonly socket: Duplex,
  ) {}

  write(frames: Buffer[]): boolean {
    const socket = this.socket
    if (socket.destroyed || !socket.writable) return true
    // One write per turn: a concatenated buffer beats several writes (docs/node-notes.md §2).
    const ok = socket.write(frames.length === 1 ? frames[0] : Buffer.concat(frames))
    // 'drain' is listened for only once a write is refused (the Outbox then waits for it), so an
    // idle socket carries no extra listener or tag (bench idle: memory per connection).
    if (!ok) socket.once('drain', drainedTo(this.conn))
    return ok
  }

  get bufferedBytes(): number {
    return this.socket.writableLength
  }

  close(reason: Disconnect): void {
    // A reader too slow for its budget would not read a close frame either.
    if (reason === Disconnects.slow) this.ws.terminate()
    else this.ws.close(reason.closeCode, reason.reason)
  }

  probe(): void {
    if (this.ws.readyState === 1) this.ws.ping()
  }
}

function onMessage(this: Tagged<WebSocket>, data: Buffer, isBinary: boolean): void {
  const conn = this[kConn]
  if (!conn) return
  if (isBinary) {
    this[kTransport]!.diagnostics.inputReject('HERALD_ERR_BINARY_FRAME', 'binary frame received', { sid: conn.sid })
    conn.disconnect(Disconnects.binaryFrame)
    return
  }
  try {
    conn.receive(data.toString('utf8'))
  } catch (err) {
    // An event listener's throw would end the process: it ends this connection instead.
    conn.failed(err)
  }
}

function onPong(this: Tagged<WebSocket>): void {
  this[kConn]?.heard()
}

/**
 * A client's own ping is input too (ws answers it itself). ws terminates, without a close frame
 * or an error event, a peer with more than `maxPendingAutoPongs` (60) pongs it has not read:
 * the ping that did it still comes here, so the end is logged and counted as what it was.
 */
function onPing(this: Tagged<WebSocket>): void {
  const conn = this[kConn]
  // Pings of the same burst still arrive after the end: one reject per connection.
  if (!conn?.isOpen) return
  if (this.readyState === 2 && this._maxPendingAutoPongs > 0 && this._pendingAutoPongs >= this._maxPendingAutoPongs) {
    this[kTransport]!.diagnostics.inputReject('HERALD_ERR_PING_FLOOD', `more than ${this._maxPendingAutoPongs} pings with their pongs unread`, { sid: conn.sid })
    conn.closed(Disconnects.pingFlood)
    return
  }
  conn.heard()
}

/** A one-off 'drain' listener for a refused write: rare, so a closure here costs nothing per message. */
function drainedTo(conn: Connection | undefined): () => void {
  return () => conn?.drained()
}

function onError(this: Tagged<WebSocket>, err: Error & { code?: string }): void {
  const conn = this[kConn]
  if (!conn) return
  const diagnostics = this[kTransport]!.diagnostics
  const known = err.code ? WS_ERRORS[err.code] : undefined
  if (known) {
    diagnostics.inputReject(known[0], err.message, { sid: conn.sid })
    conn.closed(known[1])
  } else {
    diagnostics.inputReject('HERALD_ERR_BAD_FRAME', err.message, { sid: conn.sid, wsCode: err.code })
    conn.closed(Disconnects.protocolError)
  }
}

function onClose(this: Tagged<WebSocket>, code: number, reason: Buffer): void {
  this[kTransport]?.open.delete(this)
  const conn = this[kConn]
  if (!conn) return
  this[kTransport]!.diagnostics.notice('info', 'websocket closed', { sid: conn.sid, code, reason: reason.toString('utf8') })
  conn.closed()
}

/**
 * RFC 6455 at `--path` via ws (noServer + handleUpgrade), with Herald's checks first: path (404),
 * Origin (403), session limit (503). Protocol-level faults map to close codes: too large 1009,
 * invalid UTF-8 1007, binary 1003, malformed command 1008.
 */
export class WebSocketTransport {
  readonly wss: WebSocketServer
  /** Open WebSockets, so shutdown can end the ones whose peers never answer the close frame. */
  readonly open = new Set<WebSocket>()

  constructor(
    private readonly core: Core,
    readonly diagnostics: Diagnostics,
    private readonly options: WebSocketOptions,
  ) {
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      // ws negotiates (and inflates client messages under maxPayload: 1009 over it); Herald writes
      // its own frames, compressed once per broadcast (framing/ws-deflate.ts).
      perMessageDeflate: options.compression ? { ...DEFLATE_OPTIONS } : false,
      maxPayload: options.maxMessageSize,
      skipUTF8Validation: options.ignoreEncodingErrors,
      // Echo the first supported subprotocol; browsers fail the handshake without the echo.
      handleProtocols: (offered) => SUPPORTED_PROTOCOLS.find((p) => offered.has(p)) ?? false,
    })
    // ws's own handshake refusals (no or a bad Sec-WebSocket-Key, an unknown version, a method
    // other than GET) would otherwise be answered unseen: logged and counted like Herald's.
    this.wss.on('wsClientError', (err: Error, socket: Duplex, req: IncomingMessage) => {
      diagnostics.inputReject('HERALD_ERR_BAD_REQUEST', `websocket handshake refused: ${err.message}`, { remote: req.socket.remoteAddress })
      if (req.method !== 'GET') abortHandshake(socket, 405, { allow: 'GET' })
      // RFC 6455 §4.4: a version the server does not speak is answered with the ones it does.
      else abortHandshake(socket, 400, /version/i.test(err.message) ? { 'sec-websocket-version': '13, 8' } : {})
    })
  }

  /** Is permessage-deflate negotiated (`--ws-compression`)? */
  get compression(): boolean {
    return this.options.compression
  }

  matches(url: URL): boolean {
    return url.pathname === this.options.path
  }

  /**
   * The checks before an upgrade (HTTP/1.1 or RFC 8441): Origin (403), the session limit (503).
   * A connection token is checked after it, as AnyCable does: the client hears `disconnect`.
   */
  check(origin: string | undefined, remote: string | undefined): { status: 403 | 429 | 503; code: ErrorCode; detail: string; headers?: Record<string, string> } | undefined {
    if (!this.options.origins.allows(origin)) return { status: 403, code: 'HERALD_ERR_FORBIDDEN_ORIGIN', detail: 'websocket refused' }
    const wait = this.core.overConnectionRate(remote)
    if (wait !== undefined) {
      const detail = `more than ${this.core.connectionRate.ratePerSec} new sessions a second from this address (--rate-connections-per-ip)`
      return { status: 429, code: 'HERALD_ERR_RATE_LIMITED', detail, headers: { 'retry-after': String(wait) } }
    }
    if (!this.core.canAccept()) return { status: 503, code: 'HERALD_ERR_TOO_MANY_SESSIONS', detail: 'websocket refused' }
    return undefined
  }

  /** HTTP/1.1 `upgrade` handler for requests at the WebSocket path. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void {
    const refusal = this.check(req.headers.origin, req.socket.remoteAddress)
    if (refusal) {
      this.diagnostics.inputReject(refusal.code, `websocket upgrade refused: ${refusal.detail}`, { origin: req.headers.origin, remote: req.socket.remoteAddress })
      abortHandshake(socket, refusal.status, refusal.headers)
      return
    }
    const offered = req.headers['sec-websocket-extensions']
    if (this.options.compression && offered !== undefined) {
      const usable = usableOffers(offered)
      // Offers Herald cannot honour are left out; a malformed header still reaches ws (its 400).
      if (usable !== null) {
        if (usable === undefined) delete req.headers['sec-websocket-extensions']
        else req.headers['sec-websocket-extensions'] = usable
      }
    }
    const request: WireRequest = { url, headers: req.headers, remoteAddress: req.socket.remoteAddress }
    this.authenticated(request, socket, (denied) => {
      this.wss.handleUpgrade(req, socket, head, (ws) => this.attach(ws, socket, 'ws', '1.1', request, denied))
    })
  }

  /**
   * Verifies the connection token once, before the upgrade is answered (a JWKS key may be a
   * round trip away), then calls `then` with the verdict unless the client left meanwhile.
   * Without connection auth `then` runs at once.
   */
  authenticated(request: WireRequest, socket: Duplex, then: (denied: string | undefined) => void): void {
    const verdict = this.core.authenticate(request)
    if (!(verdict instanceof Promise)) return then(verdict)
    // Frames sent before the answer wait in the socket, for the WebSocket to read once it exists.
    socket.pause()
    verdict.then((denied) => {
      if (socket.destroyed) return
      then(denied)
      socket.resume()
    }).catch((err: unknown) => {
      this.diagnostics.requestFail('websocket upgrade', err)
      socket.destroy()
    })
  }

  /**
   * Wires an open WebSocket (over HTTP/1.1 or an HTTP/2 stream) to a new connection; `denied`:
   * why its token was refused (the client hears `disconnect` `unauthorized`).
   */
  attach(ws: WebSocket, socket: Duplex, transport: 'ws' | 'ws-h2', httpVersion: '1.1' | '2', request: WireRequest, denied?: string): Connection {
    const extended = ws.protocol === PROTOCOL_EXT
    const info = infoOf(transport, httpVersion, extended, deflateParams(ws))
    if (this.options.kaTimeMs > 0 && typeof (socket as Socket).setKeepAlive === 'function') {
      (socket as Socket).setKeepAlive(true, this.options.kaTimeMs)
    }
    const wire = new WebSocketWire(info, ws, socket)
    const conn = this.core.accept(wire, request, denied)
    wire.conn = conn
    const tagged = ws as Tagged<WebSocket>
    tagged[kConn] = conn
    tagged[kTransport] = this
    ws.on('message', onMessage)
    ws.on('pong', onPong)
    ws.on('ping', onPing)
    ws.on('error', onError)
    ws.on('close', onClose)
    this.open.add(ws)
    return conn
  }

  /** Stops the server side; sockets still open (peers that ignored the close frame) are destroyed. */
  close(): void {
    for (const ws of this.open) ws.terminate()
    this.open.clear()
    this.wss.close()
  }
}
