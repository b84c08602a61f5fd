import http2, { type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2'
import net from 'node:net'
import { CURSORS, opened, WS_DEFLATE_OFFER, wsFrames, wsOpened } from './clients.js'
import { type ClientSpec, type Conn, nowMicros, streamSink } from './conn.js'

/**
 * The HTTP/2 variants of every client kind: one h2c connection (prior knowledge) per client and
 * one stream on it, as a browser tab on its own connection has. Node's http2 client does the
 * reading, which costs the driver more per delivery than the raw-socket readers in clients.ts:
 * read the driver CPU column before reading deliveries/s.
 */
export interface H2Hooks {
  /** A long poll's connection is up: it counts as open then (its first answer waits for a message). */
  connected(conn: Conn): void
  failed(conn: Conn, err: Error): void
}

const SETTINGS = { enablePush: false, initialWindowSize: 1 << 20 }

export function openH2(conn: Conn, spec: ClientSpec, localAddress: string, hooks: H2Hooks): void {
  const session = http2.connect(`http://127.0.0.1:${spec.port}`, {
    createConnection: () => net.connect({ host: '127.0.0.1', port: spec.port, localAddress, noDelay: true }),
    settings: SETTINGS,
  })
  session.on('error', (err) => hooks.failed(conn, err))
  session.on('close', () => {
    conn.ended = true
  })
  if (spec.proto === 'long-poll') session.once('connect', () => hooks.connected(conn))
  if (spec.proto === 'ws') {
    // RFC 8441: :protocol may only be sent once the server's SETTINGS allowed it.
    session.once('remoteSettings', () => wsOverH2(session, conn, spec))
  } else if (spec.proto === 'http-stream') streamOverH2(session, conn, spec)
  else pollOverH2(session, conn, spec, true)
}

function requestHeaders(spec: ClientSpec, conn: Conn, extra: Record<string, string> = {}): OutgoingHttpHeaders {
  const h: OutgoingHttpHeaders = { ':method': spec.method ?? 'GET', ':path': spec.path.replaceAll('{stream}', encodeURIComponent(conn.stream)) }
  for (const [k, v] of Object.entries(spec.headers ?? {})) h[k.toLowerCase()] = v.replaceAll('{stream}', conn.stream)
  return Object.assign(h, extra)
}

function watch(stream: ClientHttp2Stream, conn: Conn, hooks?: H2Hooks): void {
  conn.socket = stream
  stream.on('error', (err) => {
    conn.ended = true
    hooks?.failed(conn, err)
  })
}

const okStatus = (h: IncomingHttpHeaders) => {
  const s = Number(h[':status'])
  return s >= 200 && s < 400
}

function wsOverH2(session: ClientHttp2Session, conn: Conn, spec: ClientSpec): void {
  const headers = requestHeaders({ ...spec, method: 'CONNECT' }, conn, { ':protocol': 'websocket', ':scheme': 'http', ':authority': `127.0.0.1:${spec.port}`, 'sec-websocket-version': '13' })
  if (spec.wsProtocol) headers['sec-websocket-protocol'] = spec.wsProtocol
  if (spec.wsDeflate) headers['sec-websocket-extensions'] = WS_DEFLATE_OFFER
  const stream = session.request(headers, { endStream: false })
  watch(stream, conn)
  stream.once('response', (h) => {
    if (!wsOpened(conn, spec, Number(h[':status']) === 200)) stream.close()
  })
  stream.on('data', (chunk: Buffer) => {
    const buf = conn.pending ? Buffer.concat([conn.pending, chunk]) : chunk
    conn.pending = null
    wsFrames(conn, spec, buf, 0, nowMicros())
  })
  stream.on('close', () => {
    conn.ended = true
  })
}

/** SSE / NDJSON: a GET whose END_STREAM half-closes the stream at once (Herald's "immortal" long-poll shape). */
function streamOverH2(session: ClientHttp2Session, conn: Conn, spec: ClientSpec): void {
  const body = spec.body?.replaceAll('{stream}', conn.stream)
  const stream = session.request(requestHeaders(spec, conn), { endStream: !body })
  if (body) stream.end(body)
  watch(stream, conn)
  stream.once('response', (h) => {
    const ok = okStatus(h)
    opened(conn, ok)
    if (!ok) stream.close()
  })
  stream.on('data', (chunk: Buffer) => streamSink(conn, chunk, 0, chunk.length, nowMicros()))
  stream.on('end', () => {
    conn.ended = true
  })
}

/** Long polling: one request per poll, each on a new stream of the same connection. */
function pollOverH2(session: ClientHttp2Session, conn: Conn, spec: ClientSpec, first: boolean): void {
  if (session.destroyed || session.closed) return
  const cursor = CURSORS[spec.cursor ?? 'nchan']
  // Herald's commands (the subscribe) go only in the first poll's body; later polls are empty.
  const body = first ? spec.body?.replaceAll('{stream}', conn.stream) : undefined
  const headers = requestHeaders(spec, conn, cursor.h2(conn))
  if (body) headers['content-type'] = 'application/json'
  const stream = session.request(headers, { endStream: !body })
  if (body) stream.end(body)
  watch(stream, conn)
  stream.once('response', (h) => {
    if (!okStatus(h)) {
      conn.ended = true
      stream.close()
      return
    }
    cursor.head(conn, new Map(Object.entries(h).map(([k, v]) => [k, String(v)])))
  })
  stream.on('data', (chunk: Buffer) => streamSink(conn, chunk, 0, chunk.length, nowMicros()))
  stream.on('end', () => {
    if (conn.ended) return
    conn.tally.requests++
    conn.tail = null
    pollOverH2(session, conn, spec, false)
  })
}
