import { createHash } from 'node:crypto'
import { constants, type Http2SecureServer, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2'
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocket, subprotocol, type WebSocketServer } from 'ws'
import { HeraldError, type ErrorCode } from '../errors.js'
import { abortHandshake } from '../http/handshake.js'
import { makeStreamImmortal } from '../http/immortal.js'
import type { WireRequest } from '../core/wire.js'
import type { WebSocketTransport } from './websocket.js'
import { negotiate, type Negotiated } from './ws-deflate.js'

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
export function serverWebSocket(wss: WebSocketServer, stream: Duplex, protocol: string | undefined, extensions?: Negotiated['extensions']): WebSocket {
  const opts = wss.options as Record<string, unknown>
  // `new WebSocket(null, undefined, serverOptions)`: without the server's options autoPong is off
  // and closeTimeout undefined, so the stream would be destroyed right after our close frame
  // (docs/node-notes.md §1).
  const Ctor = WebSocket as unknown as new (address: null, protocols: undefined, options: Record<string, unknown>) => WebSocket
  const ws = new Ctor(null, undefined, opts)
  if (protocol) ws._protocol = protocol
  // As completeUpgrade does: the Receiver made by setSocket inflates through these.
  if (extensions) (ws as unknown as { _extensions: Negotiated['extensions'] })._extensions = extensions
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

/** A module-level listener: a stream reset by its peer emits 'error', which must not end the process. */
function ignoreStreamError(): void {}

/**
 * Answers a refused extended CONNECT on its raw stream: the status and `{"error":{code,message}}`
 * body that sendError writes for every other refusal.
 */
function refuse(deps: ConnectDeps, stream: ServerHttp2Stream, code: ErrorCode, detail: string, headers: Record<string, string> = {}): void {
  deps.ws.diagnostics.inputReject(code, `websocket over h2 refused: ${detail}`, { remote: stream.session?.socket?.remoteAddress })
  if (stream.destroyed || stream.headersSent) return
  const e = new HeraldError(code, detail)
  const body = JSON.stringify({ error: { code: e.code, message: e.message } })
  stream.respond({
    ':status': e.status, 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(body)),
    'cache-control': 'no-store', ...headers,
  })
  stream.end(body)
}

type StreamListener = (this: Http2Server | Http2SecureServer, stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, rawHeaders: string[]) => void

/**
 * Serves every HTTP/2 CONNECT on the raw `'stream'` event, before Node's compat layer: the compat
 * listener (added by the server's 'request' handler) would build an Http2ServerRequest and
 * Http2ServerResponse for each WebSocket and keep them as long as it lives (bench idle ws-h2:
 * 11.2 KiB of heap per connection against the raw peer's 5.5). Every other stream still goes to
 * the compat listeners, unchanged. Taking them off and calling them from one dispatcher is the
 * only way: a raw handler added beside them would run as well (spec/node-platform-notes.md §1).
 */
export function serveConnectStreams(server: Http2Server | Http2SecureServer, deps: ConnectDeps): void {
  const compat = server.listeners('stream') as StreamListener[]
  for (const listener of compat) server.removeListener('stream', listener)
  server.on('stream', function dispatch(this: Http2Server | Http2SecureServer, stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, rawHeaders: string[]) {
    if (headers[':method'] === 'CONNECT') {
      handleConnectStream(deps, stream, headers)
      return
    }
    for (const listener of compat) listener.call(this, stream, headers, flags, rawHeaders)
  })
}

/** An HTTP/1.1 CONNECT (the http.Server's, or allowHTTP1's fallback on the TLS server) is refused with 405. */
export function refuseHttp1Connect(deps: ConnectDeps, req: IncomingMessage, socket: Duplex): void {
  deps.ws.diagnostics.inputReject('HERALD_ERR_METHOD_NOT_ALLOWED', 'HTTP/1.1 CONNECT', { remote: req.socket.remoteAddress })
  abortHandshake(socket, 405)
}

/**
 * An HTTP/2 CONNECT stream. RFC 8441 extended CONNECT with `:protocol websocket` at the WebSocket
 * path gets the same checks as the HTTP/1.1 upgrade (path 404, Origin 403, session limit 503),
 * subprotocol negotiation, permessage-deflate when enabled, `sec-websocket-accept` whenever a key
 * is sent (undici requires it though RFC 8441 has none), then a ws WebSocket on the stream, so
 * limits, pings and close codes are those of HTTP/1.1. A CONNECT without `:protocol` is 405.
 */
export function handleConnectStream(deps: ConnectDeps, stream: ServerHttp2Stream, h: IncomingHttpHeaders): void {
  stream.on('error', ignoreStreamError)
  deps.ws.diagnostics.httpRequest('2.0', 'CONNECT', String(h[':path'] ?? ''))
  const protocol = h[':protocol']
  if (protocol === undefined) return refuse(deps, stream, 'HERALD_ERR_METHOD_NOT_ALLOWED', 'CONNECT without :protocol')
  if (String(protocol).toLowerCase() !== 'websocket') return refuse(deps, stream, 'HERALD_ERR_BAD_REQUEST', `unsupported :protocol ${protocol}`)
  let url: URL
  try {
    url = new URL(String(h[':path'] ?? ''), 'http://herald.invalid')
  } catch {
    return refuse(deps, stream, 'HERALD_ERR_BAD_REQUEST', 'unparseable :path')
  }
  if (!deps.ws.matches(url)) return refuse(deps, stream, 'HERALD_ERR_NOT_FOUND', `websocket at ${url.pathname}`)
  if (h['sec-websocket-version'] !== '13') {
    return refuse(deps, stream, 'HERALD_ERR_BAD_REQUEST', 'missing or invalid sec-websocket-version', { 'sec-websocket-version': '13' })
  }
  const key = h['sec-websocket-key']
  if (key !== undefined && (typeof key !== 'string' || !KEY.test(key))) return refuse(deps, stream, 'HERALD_ERR_BAD_REQUEST', 'invalid sec-websocket-key')
  const remoteAddress = stream.session?.socket?.remoteAddress
  const refusal = deps.ws.check(h.origin, remoteAddress)
  if (refusal) return refuse(deps, stream, refusal.code, refusal.detail, refusal.headers)

  let offered = new Set<string>()
  const header = h['sec-websocket-protocol']
  if (header !== undefined) {
    try {
      offered = subprotocol.parse(String(header))
    } catch {
      return refuse(deps, stream, 'HERALD_ERR_BAD_REQUEST', 'invalid sec-websocket-protocol')
    }
  }
  const select = deps.ws.wss.options.handleProtocols
  // Herald's handleProtocols reads only the offer; ws's signature also passes the request.
  const chosen = offered.size > 0 && select ? select(offered, undefined as unknown as IncomingMessage) : false

  let deflate: Negotiated | undefined
  const offeredExtensions = h['sec-websocket-extensions']
  if (deps.ws.compression && offeredExtensions !== undefined) {
    const n = negotiate(String(offeredExtensions), deps.ws.wss.options.maxPayload ?? 0)
    if (n === null) return refuse(deps, stream, 'HERALD_ERR_BAD_REQUEST', 'invalid sec-websocket-extensions')
    deflate = n
  }

  const request: WireRequest = { url, headers: h, remoteAddress }
  deps.ws.authenticated(request, stream, (denied) => {
    if (stream.destroyed || !stream.writable) return
    openWebSocket(deps, stream, chosen || undefined, typeof key === 'string' ? key : undefined, deflate, request, denied)
  })
}

/** Answers the CONNECT with 200 and runs a ws WebSocket on the stream. */
function openWebSocket(
  deps: ConnectDeps, stream: ServerHttp2Stream, chosen: string | undefined, key: string | undefined,
  deflate: Negotiated | undefined, request: WireRequest, denied: string | undefined,
): void {
  const headers: Record<string, string> = {}
  if (chosen) headers['sec-websocket-protocol'] = chosen
  if (deflate) headers['sec-websocket-extensions'] = deflate.header
  if (key !== undefined) headers['sec-websocket-accept'] = acceptKey(key)
  // RFC 8441 §5: a 2xx answers the CONNECT and the stream carries WebSocket frames from here on.
  stream.respond({ ':status': 200, ...headers })
  const ws = serverWebSocket(deps.ws.wss, stream, chosen, deflate?.extensions)
  stream.on('finish', onWebSocketStreamFinish) // fires once; `on` holds no per-stream wrapper
  // A WebSocket has its own pings; like an upgraded HTTP/1.1 socket it outlives the idle timeouts.
  makeStreamImmortal(stream)
  deps.ws.attach(ws, stream, 'ws-h2', '2', request, denied)
}
