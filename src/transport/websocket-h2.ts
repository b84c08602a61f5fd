import { createHash } from 'node:crypto'
import { constants, Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Stream } from 'node:http2'
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocket, subprotocol, type WebSocketServer } from 'ws'
import { HeraldError, type ErrorCode } from '../errors.js'
import { abortHandshake } from '../http/handshake.js'
import { sendError, setHeaders } from '../http/respond.js'
import { makeStreamImmortal } from '../http/immortal.js'
import type { WireRequest } from '../core/wire.js'
import type { WebSocketTransport } from './websocket.js'

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'
/** How long a peer has to end its side of the stream after the closing handshake. */
const PEER_END_GRACE_MS = 100
const KEY = /^[+/0-9A-Za-z]{22}==$/

/** RFC 6455 §4.2.2: base64(SHA-1(key + GUID)). */
export function acceptKey(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64')
}

export interface ConnectDeps {
  ws: WebSocketTransport
}

/** What `ws`'s own server would build for an upgraded socket (WebSocketServer.completeUpgrade). */
export function serverWebSocket(wss: WebSocketServer, stream: Duplex, protocol: string | undefined): WebSocket {
  const opts = wss.options as Record<string, unknown>
  // `new WebSocket(null, undefined, serverOptions)`: without the server's options autoPong is off
  // and closeTimeout undefined, so the stream would be destroyed right after our close frame
  // (docs/node-notes.md §1).
  const Ctor = WebSocket as unknown as new (address: null, protocols: undefined, options: Record<string, unknown>) => WebSocket
  const ws = new Ctor(null, undefined, opts)
  if (protocol) ws._protocol = protocol
  ws.setSocket(stream, Buffer.alloc(0), {
    allowSynchronousEvents: opts.allowSynchronousEvents,
    maxBufferedChunks: opts.maxBufferedChunks,
    maxFragments: opts.maxFragments,
    maxPayload: opts.maxPayload,
    skipUTF8Validation: opts.skipUTF8Validation,
  })
  return ws
}

function closeIfOpen(stream: ServerHttp2Stream): void {
  if (!stream.closed && !stream.destroyed) stream.close(constants.NGHTTP2_NO_ERROR)
}

/**
 * ws ends its side of the stream only once both close frames are exchanged. The peer should then
 * end its side too (RFC 8441 §5); undici's client does not and would wait for ws's 30 s
 * closeTimeout, so the stream is reset with NO_ERROR after a short grace.
 */
function onWebSocketStreamFinish(this: ServerHttp2Stream): void {
  setTimeout(closeIfOpen, PEER_END_GRACE_MS, this).unref()
}

function refuse(deps: ConnectDeps, res: Http2ServerResponse, code: ErrorCode, detail: string, headers: Record<string, string> = {}): void {
  deps.ws.diagnostics.inputReject(code, `websocket over h2 refused: ${detail}`, { remote: res.stream.session?.socket?.remoteAddress })
  setHeaders(res, headers)
  sendError(res, new HeraldError(code, detail))
}

/**
 * The server's `connect` listener. Over HTTP/2 it serves RFC 8441 extended CONNECT with
 * `:protocol websocket` at the WebSocket path: the same checks as the HTTP/1.1 upgrade (path 404,
 * Origin 403, session limit 503), subprotocol negotiation, `sec-websocket-accept` whenever a key
 * is sent (undici requires it though RFC 8441 has none), then a ws WebSocket on the stream, so
 * limits, pings and close codes are those of HTTP/1.1. An HTTP/1.1 CONNECT (the allowHTTP1
 * fallback routes it here with a socket) is refused with 405.
 */
export function handleConnect(
  deps: ConnectDeps,
  req: Http2ServerRequest | IncomingMessage,
  resOrSocket: Http2ServerResponse | Duplex,
): void {
  if (!(req instanceof Http2ServerRequest)) {
    deps.ws.diagnostics.inputReject('HERALD_ERR_METHOD_NOT_ALLOWED', 'HTTP/1.1 CONNECT', { remote: req.socket.remoteAddress })
    abortHandshake(resOrSocket as Duplex, 405)
    return
  }
  const res = resOrSocket as Http2ServerResponse
  const h = req.headers
  deps.ws.diagnostics.httpRequest(req.httpVersion, 'CONNECT', String(h[':path'] ?? ''))
  const protocol = h[':protocol']
  if (protocol === undefined) return refuse(deps, res, 'HERALD_ERR_METHOD_NOT_ALLOWED', 'CONNECT without :protocol')
  if (String(protocol).toLowerCase() !== 'websocket') return refuse(deps, res, 'HERALD_ERR_BAD_REQUEST', `unsupported :protocol ${protocol}`)
  let url: URL
  try {
    url = new URL(String(h[':path'] ?? ''), 'http://herald.invalid')
  } catch {
    return refuse(deps, res, 'HERALD_ERR_BAD_REQUEST', 'unparseable :path')
  }
  if (!deps.ws.matches(url)) return refuse(deps, res, 'HERALD_ERR_NOT_FOUND', `websocket at ${url.pathname}`)
  if (h['sec-websocket-version'] !== '13') {
    return refuse(deps, res, 'HERALD_ERR_BAD_REQUEST', 'missing or invalid sec-websocket-version', { 'sec-websocket-version': '13' })
  }
  const key = h['sec-websocket-key']
  if (key !== undefined && (typeof key !== 'string' || !KEY.test(key))) return refuse(deps, res, 'HERALD_ERR_BAD_REQUEST', 'invalid sec-websocket-key')
  const refusal = deps.ws.check(h.origin, req.socket?.remoteAddress)
  if (refusal) return refuse(deps, res, refusal.code, refusal.detail, refusal.headers)

  let offered = new Set<string>()
  const header = h['sec-websocket-protocol']
  if (header !== undefined) {
    try {
      offered = subprotocol.parse(String(header))
    } catch {
      return refuse(deps, res, 'HERALD_ERR_BAD_REQUEST', 'invalid sec-websocket-protocol')
    }
  }
  const select = deps.ws.wss.options.handleProtocols
  const chosen = offered.size > 0 && select ? select(offered, req as unknown as IncomingMessage) : false

  const stream: ServerHttp2Stream = req.stream
  const request = { url, headers: h, remoteAddress: req.socket?.remoteAddress }
  deps.ws.authenticated(request, stream, (denied) => {
    if (stream.destroyed || !stream.writable) return
    openWebSocket(deps, stream, chosen || undefined, typeof key === 'string' ? key : undefined, request, denied)
  })
}

/** Answers the CONNECT with 200 and runs a ws WebSocket on the stream. */
function openWebSocket(deps: ConnectDeps, stream: ServerHttp2Stream, chosen: string | undefined, key: string | undefined, request: WireRequest, denied: string | undefined): void {
  const headers: Record<string, string> = {}
  if (chosen) headers['sec-websocket-protocol'] = chosen
  if (key !== undefined) headers['sec-websocket-accept'] = acceptKey(key)
  // RFC 8441 §5: a 2xx answers the CONNECT and the stream carries WebSocket frames from here on.
  stream.respond({ ':status': 200, ...headers })
  const ws = serverWebSocket(deps.ws.wss, stream, chosen)
  stream.once('finish', onWebSocketStreamFinish)
  // A WebSocket has its own pings; like an upgraded HTTP/1.1 socket it outlives the idle timeouts.
  makeStreamImmortal(stream)
  deps.ws.attach(ws, stream, 'ws-h2', '2', request, denied)
}
