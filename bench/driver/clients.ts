import { type ClientSpec, type Conn, inflateMessage, scanMessages, streamSink } from './conn.js'
import { dechunk, parseHead, requestText } from './http1.js'

/**
 * One client kind: what to write once the TCP connection is up, and how to read what comes back.
 * Adding a transport to the benchmark means adding one of these (and a ClientSpec for it).
 */
export interface ClientProtocol {
  start(conn: Conn, spec: ClientSpec): void
  data(conn: Conn, spec: ClientSpec, chunk: Buffer, now: number): void
}

/** Called once per connection when its handshake or first response head arrived; sets `conn.opened`. */
export type OpenedHook = (conn: Conn, ok: boolean) => void
let onOpened: OpenedHook = () => {}
export function setOpenedHook(hook: OpenedHook): void {
  onOpened = hook
}

/** The handshake or first response head arrived; the hook marks the connection opened. */
export function opened(conn: Conn, ok: boolean): void {
  if (!conn.opened) onOpened(conn, ok)
}

// ---- WebSocket (RFC 6455): handshake, then unmasked server frames ------------------------------

/** A masked client frame (the mask key is zero, so the payload goes out as it is). */
function clientFrame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length
  const head = len < 126 ? Buffer.from([0x80 | opcode, 0x80 | len, 0, 0, 0, 0]) : Buffer.from([0x80 | opcode, 0x80 | 126, len >> 8, len & 0xff, 0, 0, 0, 0])
  return Buffer.concat([head, payload])
}

const PONG_3 = clientFrame(0x1, Buffer.from('3'))
function inflated(conn: Conn, data: Buffer, now: number): void {
  scanMessages(conn, data, 0, data.length, now)
}

function inflatedEngineIo(conn: Conn, data: Buffer, now: number): void {
  if (data.length === 1 && data[0] === 0x32) conn.socket.write(PONG_3)
  else scanMessages(conn, data, 0, data.length, now)
}

/** What Chromium offers. */
export const WS_DEFLATE_OFFER = 'permessage-deflate; client_max_window_bits'

export const wsClient: ClientProtocol = {
  start(conn, spec) {
    const proto = (spec.wsProtocol ? `Sec-WebSocket-Protocol: ${spec.wsProtocol}\r\n` : '') + (spec.wsDeflate ? `Sec-WebSocket-Extensions: ${WS_DEFLATE_OFFER}\r\n` : '')
    conn.socket.write(requestText({ ...spec, method: 'GET', body: undefined }, conn.stream,
      `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${proto}`))
  },
  data(conn, spec, chunk, now) {
    let buf = chunk
    if (conn.pending) {
      buf = Buffer.concat([conn.pending, chunk])
      conn.pending = null
    }
    let i = 0
    if (conn.phase === 0) {
      const idx = buf.indexOf('\r\n\r\n')
      if (idx < 0) {
        conn.pending = Buffer.from(buf)
        return
      }
      i = idx + 4
      if (!wsOpened(conn, spec, buf.toString('latin1', 9, 12) === '101')) return
    }
    wsFrames(conn, spec, buf, i, now)
  },
}

/** The handshake's answer arrived: send the subscribe frames and count the connection. */
export function wsOpened(conn: Conn, spec: ClientSpec, ok: boolean): boolean {
  conn.phase = 1
  for (const text of spec.wsSendOnOpen ?? []) conn.socket.write(clientFrame(0x1, Buffer.from(text.replaceAll('{stream}', conn.stream))))
  opened(conn, ok)
  return ok
}

/**
 * Reads server frames from buf[i..] (the caller already joined `conn.pending`): data frames go to
 * the scanner, pings are answered, and a partial frame is kept for the next read.
 */
export function wsFrames(conn: Conn, spec: ClientSpec, buf: Buffer, i: number, now: number): void {
  const len = buf.length
  while (len - i >= 2) {
    let plen = buf[i + 1] & 0x7f
    let hdr = 2
    if (plen === 126) {
      if (len - i < 4) break
      plen = buf.readUInt16BE(i + 2)
      hdr = 4
    } else if (plen === 127) {
      if (len - i < 10) break
      plen = buf.readUInt32BE(i + 2) * 2 ** 32 + buf.readUInt32BE(i + 6)
      hdr = 10
    }
    if (len - i < hdr + plen) break
    const op = buf[i] & 0x0f
    const p = i + hdr
    if (op <= 2) {
      if (buf[i] & 0x40) {
        // RSV1: a permessage-deflate message (the driver reads one frame per message).
        inflateMessage(conn, buf.subarray(p, p + plen), now, spec.engineIoPong ? inflatedEngineIo : inflated)
      } else if (spec.engineIoPong && plen === 1 && buf[p] === 0x32) conn.socket.write(PONG_3)
      else scanMessages(conn, buf, p, p + plen, now)
    } else if (op === 0x9) conn.socket.write(clientFrame(0xa, buf.subarray(p, p + plen)))
    else if (op === 0x8) conn.ended = true
    i = p + plen
  }
  if (i < len) conn.pending = Buffer.from(buf.subarray(i))
}

// ---- HTTP responses: endless streams (SSE, NDJSON, nchan raw stream) and long polls -----------

/** Parses heads and bodies; `done` runs when a response ends (a long poll's answer). */
function httpData(conn: Conn, chunk: Buffer, now: number, done: (conn: Conn) => void, head: (conn: Conn, headers: Map<string, string>) => void): void {
  let buf = chunk
  if (conn.pending) {
    buf = Buffer.concat([conn.pending, chunk])
    conn.pending = null
  }
  let i = 0
  const len = buf.length
  while (i < len) {
    if (conn.phase === 0) {
      const h = parseHead(buf, i)
      if (!h) {
        conn.pending = Buffer.from(buf.subarray(i))
        return
      }
      const ok = h.status >= 200 && h.status < 400
      opened(conn, ok)
      if (!ok) {
        conn.ended = true
        conn.socket.destroy()
        return
      }
      head(conn, h.headers)
      conn.phase = 1
      conn.chunked = (h.headers.get('transfer-encoding') ?? '').includes('chunked')
      conn.chunkLeft = 0
      const cl = h.headers.get('content-length')
      conn.bodyLeft = cl !== undefined ? Number(cl) : conn.chunked ? -1 : h.status === 304 || h.status === 204 ? 0 : -1
      i = h.end
      if (conn.bodyLeft === 0) {
        conn.phase = 0
        done(conn)
      }
      continue
    }
    if (conn.chunked) {
      const j = dechunk(conn, buf, i, now)
      if (j < 0) return
      i = j
      conn.phase = 0
      done(conn)
    } else if (conn.bodyLeft >= 0) {
      const n = Math.min(conn.bodyLeft, len - i)
      streamSink(conn, buf, i, i + n, now)
      conn.bodyLeft -= n
      i += n
      if (conn.bodyLeft === 0) {
        conn.phase = 0
        done(conn)
      }
    } else {
      streamSink(conn, buf, i, len, now)
      i = len
    }
  }
}

const noHead = (): void => {}
const streamEnded = (conn: Conn): void => {
  conn.ended = true
}

export const httpStreamClient: ClientProtocol = {
  start(conn, spec) {
    conn.socket.write(requestText(spec, conn.stream))
  },
  data(conn, _spec, chunk, now) {
    httpData(conn, chunk, now, streamEnded, noHead)
  },
}

/** Long-poll cursors, one style per server family; `extra` gives the next poll's headers as HTTP/1.1 text. */
export const CURSORS = {
  /** nchan: the last answer's Last-Modified and Etag come back as If-Modified-Since / If-None-Match. */
  nchan: {
    head(conn: Conn, h: Map<string, string>) {
      conn.cursorA = h.get('last-modified') ?? conn.cursorA
      conn.cursorB = h.get('etag') ?? conn.cursorB
    },
    extra(conn: Conn) {
      return conn.cursorA ? `If-Modified-Since: ${conn.cursorA}\r\nIf-None-Match: ${conn.cursorB}\r\n` : ''
    },
    h2(conn: Conn): Record<string, string> {
      return conn.cursorA ? { 'if-modified-since': conn.cursorA, 'if-none-match': conn.cursorB } : {}
    },
  },
  /** Herald (AnyCable long polling): the poll session id from the first answer comes back on every later poll. */
  herald: {
    head(conn: Conn, h: Map<string, string>) {
      conn.cursorA = h.get('x-anycable-poll-id') ?? h.get('x-herald-poll-id') ?? conn.cursorA
    },
    extra(conn: Conn) {
      return conn.cursorA ? `X-AnyCable-Poll-ID: ${conn.cursorA}\r\n` : ''
    },
    h2(conn: Conn): Record<string, string> {
      return conn.cursorA ? { 'x-anycable-poll-id': conn.cursorA } : {}
    },
  },
}

const specs = new WeakMap<Conn, ClientSpec>()
function pollAgain(conn: Conn): void {
  conn.tally.requests++
  conn.tail = null
  const spec = specs.get(conn)!
  // Herald's commands (the subscribe) go only in the first poll's body; later polls are empty.
  if (!conn.socket.destroyed) conn.socket.write(requestText(spec, conn.stream, CURSORS[spec.cursor ?? 'nchan'].extra(conn), false))
}

export const longPollClient: ClientProtocol = {
  start(conn, spec) {
    specs.set(conn, spec)
    conn.socket.write(requestText(spec, conn.stream, CURSORS[spec.cursor ?? 'nchan'].extra(conn)))
  },
  data(conn, spec, chunk, now) {
    httpData(conn, chunk, now, pollAgain, CURSORS[spec.cursor ?? 'nchan'].head)
  },
}

export const PROTOCOLS: Record<ClientSpec['proto'], ClientProtocol> = {
  ws: wsClient,
  'http-stream': httpStreamClient,
  'long-poll': longPollClient,
}
