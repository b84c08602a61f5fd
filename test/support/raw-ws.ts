import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import net from 'node:net'
import { within } from './util.js'

// A WebSocket client written straight onto a TCP socket (RFC 6455 §5), so a test can send what no
// library would: unmasked frames, reserved opcodes and bits, oversized control frames, invalid
// UTF-8, bad close codes. Frames from the server are parsed here too (they are never masked).

export interface FrameOptions {
  fin?: boolean
  /** Mask the payload (every client frame must be, §5.1). */
  mask?: boolean
  /** RSV1..3 as a 3-bit number (no extension is negotiated, so any set bit is a violation). */
  rsv?: number
}

/** One client frame's bytes. */
export function clientFrame(opcode: number, payload: Buffer | string, options: FrameOptions = {}): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload
  const mask = options.mask ?? true
  const head = [((options.fin ?? true) ? 0x80 : 0) | ((options.rsv ?? 0) << 4) | opcode]
  const len = data.length
  let ext: Buffer
  if (len < 126) { ext = Buffer.alloc(0); head.push(len) } else if (len < 65536) {
    ext = Buffer.alloc(2); ext.writeUInt16BE(len); head.push(126)
  } else {
    ext = Buffer.alloc(8); ext.writeBigUInt64BE(BigInt(len)); head.push(127)
  }
  if (mask) head[1] |= 0x80
  const key = mask ? randomBytes(4) : Buffer.alloc(0)
  const body = Buffer.from(data)
  if (mask) for (let i = 0; i < body.length; i++) body[i] ^= key[i & 3]
  return Buffer.concat([Buffer.from(head), ext, key, body])
}

/** A close frame's payload: the code, then the reason. */
export function closePayload(code: number, reason = ''): Buffer {
  const b = Buffer.alloc(2 + Buffer.byteLength(reason))
  b.writeUInt16BE(code)
  b.write(reason, 2)
  return b
}

export class RawWebSocket {
  /** Text messages from the server, parsed as JSON. */
  readonly messages: any[] = []
  /** The server's close frame: its code and reason, once one came. */
  close: { code: number; reason: string } | undefined
  private buf = Buffer.alloc(0)
  private readonly ended: Promise<void>

  private constructor(readonly socket: net.Socket, rest: Buffer) {
    this.ended = once(socket, 'close').then(() => undefined)
    socket.on('data', (d: Buffer) => this.parse(d))
    if (rest.length > 0) this.parse(rest)
  }

  /** Opens one with a hand-written handshake at `base` (http://host:port); rejects unless 101. */
  static async open(base: string, path = '/cable', protocol = 'actioncable-v1-ext-json'): Promise<RawWebSocket> {
    const { hostname, port } = new URL(base)
    const socket = net.connect(Number(port), hostname)
    socket.on('error', () => { /* a reset after a violation is expected; 'close' follows */ })
    await once(socket, 'connect')
    socket.write([
      `GET ${path} HTTP/1.1`, `Host: ${hostname}:${port}`, 'Upgrade: websocket', 'Connection: Upgrade',
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`, 'Sec-WebSocket-Version: 13',
      `Sec-WebSocket-Protocol: ${protocol}`, '', '',
    ].join('\r\n'))
    let head = Buffer.alloc(0)
    for (;;) {
      const [chunk] = (await within(once(socket, 'data'), 5000, 'the handshake answer')) as [Buffer]
      head = Buffer.concat([head, chunk])
      const end = head.indexOf('\r\n\r\n')
      if (end < 0) continue
      const status = /^HTTP\/1\.1 (\d+)/.exec(head.toString('latin1'))?.[1]
      if (status !== '101') {
        socket.destroy()
        throw Object.assign(new Error(`handshake answered ${status}`), { status: Number(status) })
      }
      socket.removeAllListeners('data')
      return new RawWebSocket(socket, head.subarray(end + 4))
    }
  }

  private parse(chunk: Buffer): void {
    this.buf = Buffer.concat([this.buf, chunk])
    for (;;) {
      if (this.buf.length < 2) return
      const opcode = this.buf[0] & 0x0f
      let len = this.buf[1] & 0x7f
      let at = 2
      if (len === 126) {
        if (this.buf.length < 4) return
        len = this.buf.readUInt16BE(2); at = 4
      } else if (len === 127) {
        if (this.buf.length < 10) return
        len = Number(this.buf.readBigUInt64BE(2)); at = 10
      }
      if (this.buf.length < at + len) return
      const payload = this.buf.subarray(at, at + len)
      this.buf = this.buf.subarray(at + len)
      if (opcode === 0x1) this.messages.push(JSON.parse(payload.toString('utf8')))
      else if (opcode === 0x8 && this.close === undefined) {
        this.close = { code: payload.length >= 2 ? payload.readUInt16BE(0) : 1005, reason: payload.subarray(2).toString('utf8') }
        // Answer the close handshake as a client should (§5.5.1), so a server-initiated close ends at once.
        if (this.socket.writable) this.socket.end(clientFrame(0x8, payload.subarray(0, 2)))
      }
    }
  }

  /** Resolves once a message matching `test` has come. */
  async waitFor(test: (m: any) => boolean, what: string): Promise<any> {
    const deadline = Date.now() + 5000
    for (;;) {
      const found = this.messages.find(test)
      if (found) return found
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.messages.slice(-5))}`)
      await new Promise((r) => setTimeout(r, 5))
    }
  }

  frame(opcode: number, payload: Buffer | string, options?: FrameOptions): void {
    this.socket.write(clientFrame(opcode, payload, options))
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes)
  }

  /** Resolves once the TCP connection has closed, with the server's close frame (undefined when none came). */
  async closed(timeoutMs = 5000): Promise<{ code: number; reason: string } | undefined> {
    await within(this.ended, timeoutMs, 'the server to close the connection')
    return this.close
  }

  destroy(): void {
    this.socket.destroy()
  }
}
