import { once } from 'node:events'
import net from 'node:net'
import { constants, inflateRawSync } from 'node:zlib'
import { Sender } from 'ws'
import { until } from './util.js'

// A WebSocket client on a bare TCP socket for tests of permessage-deflate: it reads the server's
// frames bit by bit (RSV1, payload as on the wire) and inflates them as RFC 7692 says a client does.

export const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff])

export interface Frame { rsv1: boolean; opcode: number; payload: Buffer; /** The message as the client inflated it, in order. */ text: string }

/** Server frames (unmasked) from a byte stream; returns the frames and the unparsed rest. */
export function parseFrames(buf: Buffer): { frames: Frame[]; rest: Buffer } {
  const frames: Frame[] = []
  let i = 0
  while (buf.length - i >= 2) {
    let len = buf[i + 1] & 0x7f
    let hdr = 2
    if (len === 126) { if (buf.length - i < 4) break; len = buf.readUInt16BE(i + 2); hdr = 4 }
    else if (len === 127) { if (buf.length - i < 10) break; len = Number(buf.readBigUInt64BE(i + 2)); hdr = 10 }
    if (buf.length - i < hdr + len) break
    frames.push({ rsv1: (buf[i] & 0x40) !== 0, opcode: buf[i] & 0x0f, payload: buf.subarray(i + hdr, i + hdr + len), text: '' })
    i += hdr + len
  }
  return { frames, rest: buf.subarray(i) }
}

/**
 * A client's inflater as RFC 7692 has it: one window across the connection's compressed messages
 * (unless the server took server_no_context_takeover), here the inflated bytes so far given to
 * each inflate as its preset dictionary, which is what a raw inflater's window is. A frame that
 * refers to bytes the client does not have fails to inflate or inflates to something else.
 */
export class InflateWindow {
  private window = Buffer.alloc(0)
  constructor(private readonly bits = 15) {}

  /** RFC 7692 §7.2.2: append 00 00 ff ff and inflate, when RSV1 is set; plain frames leave the window as it was. */
  text(f: Frame): string {
    if (!f.rsv1) return f.payload.toString('utf8')
    const out = inflateRawSync(Buffer.concat([f.payload, TRAILER]), { finishFlush: constants.Z_SYNC_FLUSH, windowBits: this.bits, ...(this.window.length ? { dictionary: this.window } : {}) })
    this.window = Buffer.concat([this.window, out]).subarray(-(1 << this.bits))
    return out.toString('utf8')
  }
}

/** A frame inflated on its own, with no window: what a message compressed without context is. */
export const alone = (f: Frame) => inflateRawSync(Buffer.concat([f.payload, TRAILER]), { finishFlush: constants.Z_SYNC_FLUSH }).toString('utf8')

export function clientFrame(payload: Buffer, rsv1 = false): Buffer {
  return Buffer.concat(Sender.frame(payload, { fin: true, opcode: 0x1, mask: true, readOnly: false, rsv1 }) as Buffer[])
}

/** A WebSocket client on a bare TCP socket, so the test sees the frames' bits as they are on the wire. */
export class DeflateClient {
  frames: Frame[] = []
  head = ''
  private buf = Buffer.alloc(0)
  private window: InflateWindow | undefined
  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buf = Buffer.concat([this.buf, chunk])
      if (!this.head) {
        const end = this.buf.indexOf('\r\n\r\n')
        if (end < 0) return
        this.head = this.buf.subarray(0, end).toString('latin1')
        this.buf = this.buf.subarray(end + 4)
        this.window = new InflateWindow(Number(/server_max_window_bits=(\d+)/.exec(extensionsHeader(this.head) ?? '')?.[1] ?? 15))
      }
      const { frames, rest } = parseFrames(this.buf)
      for (const f of frames) f.text = this.window!.text(f)
      this.frames.push(...frames)
      this.buf = Buffer.from(rest)
    })
  }

  static async open(url: string, extensions?: string): Promise<DeflateClient> {
    const u = new URL(url)
    const socket = net.connect(Number(u.port), u.hostname)
    await once(socket, 'connect')
    const ws = new DeflateClient(socket)
    socket.write(`GET ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: actioncable-v1-ext-json\r\n` +
      (extensions ? `Sec-WebSocket-Extensions: ${extensions}\r\n` : '') + '\r\n')
    await until(() => ws.head, 'the handshake answer')
    return ws
  }

  send(msg: unknown): void {
    this.socket.write(clientFrame(Buffer.from(JSON.stringify(msg))))
  }

  messages(): any[] {
    return this.frames.filter((f) => f.opcode === 1).map((f) => JSON.parse(f.text))
  }

  async subscribe(identifier: string): Promise<void> {
    this.send({ command: 'subscribe', identifier })
    await until(() => this.messages().some((m) => m.type === 'confirm_subscription'), 'confirm_subscription')
  }
}

export const extensionsHeader = (head: string) => /^sec-websocket-extensions: (.*)$/im.exec(head)?.[1]
