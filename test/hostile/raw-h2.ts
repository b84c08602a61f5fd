import { once } from 'node:events'
import net from 'node:net'
import { within } from '../support/util.js'

// HTTP/2 (RFC 9113) written by hand onto a TCP socket: the client preface, then any frames at all,
// for frames Node's own client would never send. Frames from the server are parsed enough to find
// its SETTINGS, GOAWAY (with the error code) and RST_STREAM.

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1')
export const FRAME = { DATA: 0x0, HEADERS: 0x1, PRIORITY: 0x2, RST_STREAM: 0x3, SETTINGS: 0x4, PUSH_PROMISE: 0x5, PING: 0x6, GOAWAY: 0x7, WINDOW_UPDATE: 0x8, CONTINUATION: 0x9 } as const
/** RFC 9113 §7 error codes. */
export const H2_ERROR = { NO_ERROR: 0x0, PROTOCOL_ERROR: 0x1, INTERNAL_ERROR: 0x2, FLOW_CONTROL_ERROR: 0x3, FRAME_SIZE_ERROR: 0x6, COMPRESSION_ERROR: 0x9, ENHANCE_YOUR_CALM: 0xb } as const

/** One frame's bytes: a 9-byte header (length, type, flags, stream id) and the payload. */
export function h2Frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9)
  head.writeUIntBE(payload.length, 0, 3)
  head[3] = type
  head[4] = flags
  head.writeUInt32BE(stream, 5)
  return Buffer.concat([head, payload])
}

/** A SETTINGS payload from [id, value] pairs. */
export function settings(pairs: [number, number][]): Buffer {
  const b = Buffer.alloc(6 * pairs.length)
  pairs.forEach(([id, value], i) => { b.writeUInt16BE(id, 6 * i); b.writeUInt32BE(value, 6 * i + 2) })
  return b
}

export interface ServerFrame { type: number; flags: number; stream: number; payload: Buffer }

export class RawH2 {
  readonly frames: ServerFrame[] = []
  private buf = Buffer.alloc(0)
  private readonly ended: Promise<void>

  private constructor(readonly socket: net.Socket) {
    this.ended = once(socket, 'close').then(() => undefined)
    socket.on('data', (d: Buffer) => this.parse(d))
  }

  /** Connects to `base` (http://host:port) and sends the preface and an empty SETTINGS, unless `preface` is false. */
  static async open(base: string, preface = true): Promise<RawH2> {
    const { hostname, port } = new URL(base)
    const socket = net.connect(Number(port), hostname)
    socket.on('error', () => { /* the server may reset after GOAWAY; 'close' follows */ })
    await once(socket, 'connect')
    const raw = new RawH2(socket)
    if (preface) raw.write(Buffer.concat([PREFACE, h2Frame(FRAME.SETTINGS, 0, 0)]))
    return raw
  }

  private parse(chunk: Buffer): void {
    this.buf = Buffer.concat([this.buf, chunk])
    while (this.buf.length >= 9) {
      const len = this.buf.readUIntBE(0, 3)
      if (this.buf.length < 9 + len) return
      this.frames.push({ type: this.buf[3], flags: this.buf[4], stream: this.buf.readUInt32BE(5) & 0x7fffffff, payload: this.buf.subarray(9, 9 + len) })
      this.buf = this.buf.subarray(9 + len)
    }
  }

  write(bytes: Buffer): void {
    if (this.socket.writable) this.socket.write(bytes)
  }

  frame(type: number, flags: number, stream: number, payload?: Buffer): void {
    this.write(h2Frame(type, flags, stream, payload))
  }

  /** The error code of the server's first GOAWAY, once one came. */
  async goaway(): Promise<number> {
    const goaway = await this.waitFor((f) => f.type === FRAME.GOAWAY, 'GOAWAY')
    return goaway.payload.readUInt32BE(4)
  }

  /** Resolves once the TCP connection has closed. */
  closed(timeoutMs = 5000): Promise<void> {
    return within(this.ended, timeoutMs, 'the server to close the HTTP/2 connection')
  }

  /** Resolves with the server's first frame matching `test`. */
  async waitFor(test: (f: ServerFrame) => boolean, what: string): Promise<ServerFrame> {
    const deadline = Date.now() + 5000
    for (;;) {
      const found = this.frames.find(test)
      if (found) return found
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; frames: ${this.frames.map((f) => f.type).join(',')}`)
      await new Promise((r) => setTimeout(r, 5))
    }
  }

  destroy(): void {
    this.socket.destroy()
  }
}
