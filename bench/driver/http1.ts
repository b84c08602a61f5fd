import { type ClientSpec, type Conn, streamSink } from './conn.js'

/** The request line and headers of one GET/POST for this spec and stream. */
export function requestText(spec: ClientSpec, stream: string, extra = '', withBody = true): string {
  const path = spec.path.replaceAll('{stream}', encodeURIComponent(stream))
  const body = withBody ? (spec.body?.replaceAll('{stream}', stream) ?? '') : ''
  const method = spec.method ?? 'GET'
  let head = `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1:${spec.port}\r\n`
  for (const [k, v] of Object.entries(spec.headers ?? {})) head += `${k}: ${v.replaceAll('{stream}', stream)}\r\n`
  if (body || method === 'POST') head += `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`
  return `${head}${extra}\r\n${body}`
}

export interface ResponseHead {
  status: number
  headers: Map<string, string>
  /** Index of the first body byte. */
  end: number
}

/** Parses a response head starting at `i`, or null when it is not complete yet. */
export function parseHead(buf: Buffer, i: number): ResponseHead | null {
  const idx = buf.indexOf('\r\n\r\n', i)
  if (idx < 0) return null
  const lines = buf.toString('latin1', i, idx).split('\r\n')
  const status = Number(lines[0].split(' ', 2)[1])
  const headers = new Map<string, string>()
  for (let k = 1; k < lines.length; k++) {
    const c = lines[k].indexOf(':')
    if (c > 0) headers.set(lines[k].slice(0, c).toLowerCase(), lines[k].slice(c + 1).trim())
  }
  return { status, headers, end: idx + 4 }
}

/** Chunk state: `chunkLeft` > 0 data bytes left, -2 a CRLF is due, 0 a size line is due. */
const CRLF_DUE = -2

/**
 * Decodes chunked transfer coding from buf[i..], feeding data to the scanner. Returns the
 * index after the final chunk, -1 when more bytes are needed (kept in conn.pending).
 */
export function dechunk(conn: Conn, buf: Buffer, i: number, now: number): number {
  const len = buf.length
  for (;;) {
    if (conn.chunkLeft > 0) {
      const n = Math.min(conn.chunkLeft, len - i)
      if (n > 0) streamSink(conn, buf, i, i + n, now)
      conn.chunkLeft -= n
      i += n
      if (conn.chunkLeft > 0) return -1
      conn.chunkLeft = CRLF_DUE
    }
    if (conn.chunkLeft === CRLF_DUE) {
      if (len - i < 2) {
        conn.pending = i < len ? Buffer.from(buf.subarray(i)) : null
        return -1
      }
      i += 2
      conn.chunkLeft = 0
    }
    const nl = buf.indexOf('\r\n', i)
    if (nl < 0) {
      conn.pending = i < len ? Buffer.from(buf.subarray(i)) : null
      return -1
    }
    const size = parseInt(buf.toString('latin1', i, nl), 16)
    if (size === 0) {
      // Last chunk; no trailers expected, just the closing CRLF.
      if (len - nl - 2 < 2) {
        conn.pending = Buffer.from(buf.subarray(i))
        return -1
      }
      return nl + 4
    }
    i = nl + 2
    conn.chunkLeft = size
  }
}
