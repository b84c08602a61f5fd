import { constants as zlibConstants, createInflateRaw, type InflateRaw } from 'node:zlib'

/**
 * What a driver process needs to open one kind of client connection. Built by a server adapter
 * (bench/servers), serialisable so it crosses the fork boundary. `{stream}` in any string is
 * replaced with the connection's stream name.
 */
export interface ClientSpec {
  /** Which client module speaks it: see PROTOCOLS in worker.ts. */
  proto: 'ws' | 'http-stream' | 'long-poll'
  port: number
  /** Several servers (cluster nodes): connection i goes to ports[i % ports.length] instead of `port`. */
  ports?: number[]
  path: string
  method?: string
  headers?: Record<string, string>
  body?: string
  /** WebSocket subprotocol to offer. */
  wsProtocol?: string
  /** Text frames sent right after the handshake (Action Cable subscribe, Engine.IO "40"). */
  wsSendOnOpen?: string[]
  /** Engine.IO: answer the server's "2" ping text frame with "3". */
  engineIoPong?: boolean
  /** Long-poll cursor style: nchan's Last-Modified/Etag or Herald's session poll. */
  cursor?: 'nchan' | 'herald'
  /** Over HTTP/2 (h2c with prior knowledge, one connection per client): see h2.ts. */
  h2?: boolean
  /** WebSocket: offer permessage-deflate as Chromium does (`permessage-deflate; client_max_window_bits`). */
  wsDeflate?: boolean
}

/** What the client modules write to: a TCP socket, or the client's HTTP/2 stream for the h2 variants. */
export interface Wire {
  write(data: Buffer | string): boolean
  destroy(): void
  readonly destroyed: boolean
  readonly bytesRead?: number
}

/** Latency histogram: 10 µs buckets up to 10 s (the last bucket holds everything slower). */
export const HIST_BUCKETS = 1_000_000
export const HIST_US = 10

/**
 * CLOCK_MONOTONIC in integer microseconds: the same clock in every process on this machine,
 * unlike performance.timeOrigin, which differs by up to ~1 ms between processes.
 */
export function nowMicros(): number {
  const [s, ns] = process.hrtime()
  return s * 1_000_000 + Math.floor(ns / 1000)
}

/** Per-process counters shared by every connection in it. */
export class Tally {
  hist = new Uint32Array(HIST_BUCKETS)
  delivered = 0
  requests = 0
  maxLatencyUs = 0
  reset(): void {
    this.hist.fill(0)
    this.delivered = 0
    this.requests = 0
    this.maxLatencyUs = 0
  }
}

/** One client connection and its view of its stream's sequence. */
export class Conn {
  socket!: Wire
  lastSeq = 0
  unique = 0
  dup = 0
  reorder = 0
  /** Transport bytes kept between reads: a partial frame, header block or chunk-size line. */
  pending: Buffer | null = null
  /** Message bytes kept between reads: a message split across reads or chunks. */
  tail: Buffer | null = null
  /** Protocol state: 0 = waiting for the response head, 1 = open. */
  phase = 0
  /** HTTP body framing of the current response. */
  chunked = false
  chunkLeft = 0
  bodyLeft = -1
  /** Long-poll cursor headers for the next request. */
  cursorA = ''
  cursorB = ''
  ended = false
  opened = false
  /** permessage-deflate: this connection's inflater, made on its first compressed frame. */
  inflater: InflateRaw | null = null

  constructor(
    readonly index: number,
    readonly stream: string,
    readonly tally: Tally,
  ) {}

  /** Counts one message: latency from its publish stamp, and its place in the sequence. */
  record(seq: number, tUs: number, now: number): void {
    const t = this.tally
    t.delivered++
    const lat = now - tUs
    if (lat > t.maxLatencyUs) t.maxLatencyUs = lat
    const b = lat <= 0 ? 0 : Math.floor(lat / HIST_US)
    t.hist[b < HIST_BUCKETS ? b : HIST_BUCKETS - 1]++
    if (seq > this.lastSeq) {
      this.unique++
      this.lastSeq = seq
    } else if (seq === this.lastSeq) this.dup++
    else this.reorder++
  }

  resetSeq(): void {
    this.lastSeq = 0
    this.unique = 0
    this.dup = 0
    this.reorder = 0
  }
}

const DEFLATE_TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff])

function collect(this: InflateRaw & { out: Buffer[] }, chunk: Buffer): void {
  this.out.push(chunk)
}

/**
 * One permessage-deflate message (RFC 7692 §7.2.2: the payload plus 00 00 ff ff), inflated with
 * the connection's own inflater, as ws's client does (write, then a sync flush whose callback
 * has the message): a server with context takeover (ws, Socket.IO) refers back to earlier
 * messages; Herald's (no context takeover) do not, and inflate the same way. Messages of one
 * connection come out in order; `now` is the frame's arrival, so zlib's thread pool hop is
 * not counted as latency.
 */
export function inflateMessage(conn: Conn, payload: Buffer, now: number, sink: (conn: Conn, data: Buffer, now: number) => void): void {
  let inflater = conn.inflater as (InflateRaw & { out: Buffer[] }) | null
  if (!inflater) {
    inflater = Object.assign(createInflateRaw(), { out: [] as Buffer[] })
    inflater.on('data', collect)
    conn.inflater = inflater
  }
  const z = inflater
  z.write(Buffer.concat([payload, DEFLATE_TRAILER]))
  z.flush(zlibConstants.Z_SYNC_FLUSH, () => {
    const data = z.out.length === 1 ? z.out[0] : Buffer.concat(z.out)
    z.out = []
    sink(conn, data, now)
  })
}

const QUOTE = 0x22

const BACKSLASH = 0x5c
const COLON = 0x3a
/** afterKey: not a key here, or the buffer ends before that is known. */
const NOT_KEY = -1
const CUT = -2

/**
 * Index of the first digit after a key's closing `":` (or JSON-escaped `\":`), NOT_KEY when the
 * bytes there are not that (e.g. "seq" inside a random session id), CUT when the buffer ends first.
 */
function afterKey(buf: Buffer, i: number, end: number): number {
  if (i < end && buf[i] === BACKSLASH) i++
  if (i >= end) return CUT
  if (buf[i] !== QUOTE) return NOT_KEY
  if (++i >= end) return CUT
  if (buf[i] !== COLON) return NOT_KEY
  if (++i >= end) return CUT
  return buf[i] >= 0x30 && buf[i] <= 0x39 ? i : NOT_KEY
}

/** The unsigned integer whose first digit is at `i`, and the index after it; -1 if it runs to `end`. */
function readDigits(buf: Buffer, i: number, end: number): [number, number] {
  let v = 0
  while (i < end) {
    const c = buf[i]
    if (c < 0x30 || c > 0x39) return [v, i]
    v = v * 10 + (c - 0x30)
    i++
  }
  return [-1, i]
}

/**
 * Finds every `"seq":N,"t":T` in buf[start, end) (also JSON-escaped, as in Socket.IO string
 * payloads) and records it. Works on any envelope, so one scanner serves every server; a "seq"
 * or "t" that is not such a key (a session id can contain "seq") is skipped.
 * Returns the index where an incomplete message begins, or where scanning may resume.
 */
export function scanMessages(conn: Conn, buf: Buffer, start: number, end: number, now: number): number {
  let i = start
  for (;;) {
    const at = buf.indexOf('seq', i)
    // Not found: keep a possible split `"se` at the very end.
    if (at < 0 || at + 3 > end) return Math.max(i, end - 3)
    if (at <= start || buf[at - 1] !== QUOTE) {
      i = at + 3
      continue
    }
    const d = afterKey(buf, at + 3, end)
    if (d === CUT) return Math.max(start, at - 1)
    if (d === NOT_KEY) {
      i = at + 3
      continue
    }
    const [seq, afterSeq] = readDigits(buf, d, end)
    if (seq < 0) return Math.max(start, at - 1)
    // The stamp key "t" follows: `,"t":` or `,\"t\":`.
    let j = afterSeq
    let t: number
    let afterT: number
    for (;;) {
      const k = buf.indexOf('"t', j)
      if (k < 0 || k + 2 > end) return Math.max(start, at - 1)
      const d2 = afterKey(buf, k + 2, end)
      if (d2 === CUT) return Math.max(start, at - 1)
      if (d2 === NOT_KEY) {
        j = k + 2
        continue
      }
      ;[t, afterT] = readDigits(buf, d2, end)
      if (t < 0) return Math.max(start, at - 1)
      break
    }
    conn.record(seq, t, now)
    i = afterT
  }
}

/** Feeds decoded body bytes to the scanner, carrying a message split across reads. */
export function streamSink(conn: Conn, buf: Buffer, start: number, end: number, now: number): void {
  let data: Buffer
  if (conn.tail) {
    data = Buffer.concat([conn.tail, buf.subarray(start, end)])
    start = 0
    end = data.length
  } else data = buf
  const k = scanMessages(conn, data, start, end, now)
  conn.tail = k < end ? Buffer.from(data.subarray(k, end)) : null
}
