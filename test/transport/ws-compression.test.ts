import assert from 'node:assert/strict'
import { once } from 'node:events'
import type { ClientHttp2Stream, IncomingHttpHeaders } from 'node:http2'
import net from 'node:net'
import { after, before, test } from 'node:test'
import { constants, deflateRawSync, inflateRawSync } from 'node:zlib'
import { Sender } from 'ws'
import { PreparedBroadcast } from '../../src/framing/prepared-broadcast.js'
import { wsDeflatedTextFrame, wsDeflateFraming } from '../../src/framing/ws-deflate.js'
import { publicIdentifier } from '../../src/protocol/identifier.js'
import { connectH2 } from '../support/h2.js'
import { startHerald, WireClient, type TestHerald } from '../support/herald.js'
import { until } from '../support/util.js'

let h: TestHerald
let plainHerald: TestHerald
before(async () => {
  h = await startHerald({ publicStreams: true, wsCompression: true, maxMessageSize: 4096 })
  plainHerald = await startHerald({ publicStreams: true })
})
after(async () => {
  await h.close()
  await plainHerald.close()
})

const TRAILER = Buffer.from([0x00, 0x00, 0xff, 0xff])
/** A JSON progress event that compresses well, as job progress does. */
const progress = (n: number) => ({ job: 'j-123', state: 'running', step: n, of: 40, message: `processing item ${n} of 40`, items: Array.from({ length: 8 }, (_, i) => ({ id: i, status: 'done' })) })

interface Frame { rsv1: boolean; opcode: number; payload: Buffer }

/** Server frames (unmasked) from a byte stream; returns the frames and the unparsed rest. */
function parseFrames(buf: Buffer): { frames: Frame[]; rest: Buffer } {
  const frames: Frame[] = []
  let i = 0
  while (buf.length - i >= 2) {
    let len = buf[i + 1] & 0x7f
    let hdr = 2
    if (len === 126) { if (buf.length - i < 4) break; len = buf.readUInt16BE(i + 2); hdr = 4 }
    else if (len === 127) { if (buf.length - i < 10) break; len = Number(buf.readBigUInt64BE(i + 2)); hdr = 10 }
    if (buf.length - i < hdr + len) break
    frames.push({ rsv1: (buf[i] & 0x40) !== 0, opcode: buf[i] & 0x0f, payload: buf.subarray(i + hdr, i + hdr + len) })
    i += hdr + len
  }
  return { frames, rest: buf.subarray(i) }
}

/** A frame's message text: inflated (RFC 7692 §7.2.2: append 00 00 ff ff) when RSV1 is set. */
const text = (f: Frame) => (f.rsv1 ? inflateRawSync(Buffer.concat([f.payload, TRAILER]), { finishFlush: constants.Z_SYNC_FLUSH }) : f.payload).toString('utf8')

function clientFrame(payload: Buffer, rsv1 = false): Buffer {
  return Buffer.concat(Sender.frame(payload, { fin: true, opcode: 0x1, mask: true, readOnly: false, rsv1 }) as Buffer[])
}

/** A WebSocket client on a bare TCP socket, so the test sees the frames' bits as they are on the wire. */
class RawWs {
  frames: Frame[] = []
  head = ''
  private buf = Buffer.alloc(0)
  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buf = Buffer.concat([this.buf, chunk])
      if (!this.head) {
        const end = this.buf.indexOf('\r\n\r\n')
        if (end < 0) return
        this.head = this.buf.subarray(0, end).toString('latin1')
        this.buf = this.buf.subarray(end + 4)
      }
      const { frames, rest } = parseFrames(this.buf)
      this.frames.push(...frames)
      this.buf = Buffer.from(rest)
    })
  }

  static async open(url: string, extensions?: string): Promise<RawWs> {
    const u = new URL(url)
    const socket = net.connect(Number(u.port), u.hostname)
    await once(socket, 'connect')
    const ws = new RawWs(socket)
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
    return this.frames.filter((f) => f.opcode === 1).map((f) => JSON.parse(text(f)))
  }

  async subscribe(identifier: string): Promise<void> {
    this.send({ command: 'subscribe', identifier })
    await until(() => this.messages().some((m) => m.type === 'confirm_subscription'), 'confirm_subscription')
  }
}

const extensionsHeader = (head: string) => /^sec-websocket-extensions: (.*)$/im.exec(head)?.[1]

test('permessage-deflate: a ws client with it gets correct messages; the frames are compressed (RSV1), the same bytes for every such client; a client without it on the same stream gets plain frames', async () => {
  const stream = 'deflate-h1'
  const identifier = publicIdentifier(stream)
  const wsClient = await WireClient.connect(h.wsUrl, 'actioncable-v1-ext-json', { perMessageDeflate: true })
  assert.equal(wsClient.ws.extensions, 'permessage-deflate')
  wsClient.send({ command: 'subscribe', identifier })
  await wsClient.waitForType('confirm_subscription')
  // Chromium's offer, a second compressing client, and one that offers nothing.
  const chromiumLike = await RawWs.open(h.wsUrl, 'permessage-deflate; client_max_window_bits')
  assert.equal(extensionsHeader(chromiumLike.head), 'permessage-deflate; server_no_context_takeover')
  const other = await RawWs.open(h.wsUrl, 'permessage-deflate')
  const plain = await RawWs.open(h.wsUrl)
  assert.equal(extensionsHeader(plain.head), undefined)
  for (const c of [chromiumLike, other, plain]) await c.subscribe(identifier)

  for (let n = 1; n <= 3; n++) await h.herald.hub.publish(stream, progress(n))
  const got = await wsClient.waitFor((m) => m.message?.step === 3)
  assert.deepEqual(got.message, progress(3))
  assert.deepEqual(wsClient.data(identifier).map((m) => m.message), [progress(1), progress(2), progress(3)])

  await until(() => [chromiumLike, other, plain].every((c) => c.messages().filter((m) => m.message).length === 3), 'three broadcasts on each raw client')
  const dataFrames = (c: RawWs) => c.frames.filter((f) => f.opcode === 1 && JSON.parse(text(f)).message)
  for (const c of [chromiumLike, other]) {
    const frames = dataFrames(c)
    assert.ok(frames.every((f) => f.rsv1), 'broadcasts are compressed')
    assert.deepEqual(frames.map((f) => JSON.parse(text(f)).message), [progress(1), progress(2), progress(3)])
    assert.ok(frames[0].payload.length < text(frames[0]).length / 2, `compressed ${frames[0].payload.length} B < half of ${text(frames[0]).length} B`)
  }
  assert.deepEqual(dataFrames(chromiumLike).map((f) => f.payload), dataFrames(other).map((f) => f.payload), 'one compressed frame serves both')
  assert.ok(dataFrames(plain).every((f) => !f.rsv1), 'a client that did not negotiate gets plain frames')
  assert.deepEqual(dataFrames(plain).map((f) => JSON.parse(f.payload.toString()).message), [progress(1), progress(2), progress(3)])
  // Per-connection replies go uncompressed (RSV1 clear is allowed per message).
  assert.ok(!chromiumLike.frames[0].rsv1)
  wsClient.close()
  for (const c of [chromiumLike, other, plain]) c.socket.destroy()
})

test('permessage-deflate offers: server_max_window_bits is honoured, an 8-bit window is declined (plain frames), and without --ws-compression nothing is negotiated', async () => {
  const stream = 'deflate-offers'
  const identifier = publicIdentifier(stream)
  const small = await RawWs.open(h.wsUrl, 'permessage-deflate; server_max_window_bits=10; client_no_context_takeover')
  assert.equal(extensionsHeader(small.head), 'permessage-deflate; server_max_window_bits=10; client_no_context_takeover; server_no_context_takeover')
  const eight = await RawWs.open(h.wsUrl, 'permessage-deflate; server_max_window_bits=8')
  assert.equal(extensionsHeader(eight.head), undefined)
  const fallback = await RawWs.open(h.wsUrl, 'permessage-deflate; server_max_window_bits=8, permessage-deflate')
  assert.equal(extensionsHeader(fallback.head), 'permessage-deflate; server_no_context_takeover', 'the next offer is taken')
  const off = await RawWs.open(plainHerald.wsUrl, 'permessage-deflate; client_max_window_bits')
  assert.equal(extensionsHeader(off.head), undefined)
  for (const c of [small, eight, fallback]) await c.subscribe(identifier)
  await off.subscribe(identifier)

  await h.herald.hub.publish(stream, progress(7))
  await plainHerald.herald.hub.publish(stream, progress(7))
  await until(() => [small, eight, fallback, off].every((c) => c.messages().some((m) => m.message)), 'the broadcast everywhere')
  const data = (c: RawWs) => c.frames.find((f) => f.opcode === 1 && JSON.parse(text(f)).message)!
  assert.ok(data(small).rsv1)
  // Inflated with the 10-bit window the client asked the server to stay within.
  const inflated = inflateRawSync(Buffer.concat([data(small).payload, TRAILER]), { windowBits: 10, finishFlush: constants.Z_SYNC_FLUSH })
  assert.deepEqual(JSON.parse(inflated.toString()).message, progress(7))
  assert.ok(!data(eight).rsv1)
  assert.ok(data(fallback).rsv1)
  assert.ok(!data(off).rsv1)
  for (const c of [small, eight, fallback, off]) c.socket.destroy()
})

test('an inbound compression bomb (inflating past --max-message-size) closes 1009; a compressed command within it is served', async () => {
  const c = await WireClient.connect(h.wsUrl, 'actioncable-v1-ext-json', { perMessageDeflate: true })
  assert.equal(c.ws.extensions, 'permessage-deflate', 'negotiated, so what follows really is compressed')
  await c.waitForType('welcome')
  const identifier = publicIdentifier('deflate-inbound')
  // Compressed by ws (its threshold is 1 KiB): padded so it is compressed, well within 4 KiB inflated.
  c.ws.send(JSON.stringify({ command: 'subscribe', identifier, pad: ' '.repeat(2000) }), { compress: true })
  await c.waitForType('confirm_subscription')
  // 1 MB of one byte deflates to about 1 KB: small on the wire, 256× the limit once inflated.
  c.ws.send(JSON.stringify({ command: 'subscribe', identifier: 'x'.repeat(1_000_000) }), { compress: true })
  const closed = await c.closed()
  assert.equal(closed.code, 1009)
})

/** An RFC 8441 WebSocket on a raw HTTP/2 stream, reading the frames' bits as they are on the wire. */
async function h2Raw(url: string, extensions?: string): Promise<{ stream: ClientHttp2Stream; headers: IncomingHttpHeaders; frames: Frame[]; close(): void }> {
  const session = await connectH2(url)
  const stream = session.request({
    ':method': 'CONNECT', ':protocol': 'websocket', ':path': '/cable', 'sec-websocket-version': '13', 'sec-websocket-protocol': 'actioncable-v1-ext-json',
    ...(extensions ? { 'sec-websocket-extensions': extensions } : {}),
  }, { endStream: false })
  const [headers] = (await once(stream, 'response')) as [IncomingHttpHeaders]
  const out = { stream, headers, frames: [] as Frame[], close: () => session.destroy() }
  let buf = Buffer.alloc(0)
  stream.on('data', (chunk: Buffer) => {
    const { frames, rest } = parseFrames(Buffer.concat([buf, chunk]))
    out.frames.push(...frames)
    buf = Buffer.from(rest)
  })
  return out
}

test('permessage-deflate over HTTP/2 (RFC 8441): negotiated on extended CONNECT, compressed broadcasts to it and plain ones to a stream without it; a bomb closes 1009', async () => {
  const stream = 'deflate-h2'
  const identifier = publicIdentifier(stream)
  const subscribe = clientFrame(Buffer.from(JSON.stringify({ command: 'subscribe', identifier })))
  const msgs = (c: { frames: Frame[] }) => c.frames.filter((f) => f.opcode === 1).map((f) => ({ f, m: JSON.parse(text(f)) }))
  const deflated = await h2Raw(h.url, 'permessage-deflate; client_max_window_bits')
  assert.equal(deflated.headers[':status'], 200)
  assert.equal(deflated.headers['sec-websocket-extensions'], 'permessage-deflate; server_no_context_takeover')
  const plain = await h2Raw(h.url)
  assert.equal(plain.headers['sec-websocket-extensions'], undefined)
  for (const c of [deflated, plain]) {
    c.stream.write(subscribe)
    await until(() => msgs(c).some(({ m }) => m.type === 'confirm_subscription'), 'confirm over h2')
  }
  await h.herald.hub.publish(stream, progress(2))
  await until(() => [deflated, plain].every((c) => msgs(c).some(({ m }) => m.message)), 'the broadcast over h2')
  const d = msgs(deflated).find(({ m }) => m.message)!
  assert.ok(d.f.rsv1)
  assert.deepEqual(d.m.message, progress(2))
  const p = msgs(plain).find(({ m }) => m.message)!
  assert.ok(!p.f.rsv1)
  assert.deepEqual(p.m.message, progress(2))

  const bomb = deflateRawSync(Buffer.alloc(1_000_000, 'a'), { finishFlush: constants.Z_SYNC_FLUSH })
  deflated.stream.write(clientFrame(bomb.subarray(0, bomb.length - 4), true))
  await until(() => deflated.frames.find((f) => f.opcode === 8), 'a close frame')
  assert.equal(deflated.frames.find((f) => f.opcode === 8)!.payload.readUInt16BE(0), 1009)
  deflated.close()
  plain.close()
})

test('a broadcast is compressed once per window size: every connection of that framing shares one frame', () => {
  assert.equal(wsDeflateFraming(15), wsDeflateFraming(15), 'one framing (one cache slot) per window size')
  assert.notEqual(wsDeflateFraming(15).id, wsDeflateFraming(10).id)
  const prepared = new PreparedBroadcast(publicIdentifier('s'), { stream: 's', data: JSON.stringify(progress(1)), offset: 1, epoch: 'e' } as any)
  assert.equal(prepared.bytes(wsDeflateFraming(15)), prepared.bytes(wsDeflateFraming(15)), 'the same Buffer, not an equal one')
  // A message too short to shrink goes plain (RSV1 clear).
  assert.deepEqual(wsDeflatedTextFrame('{}', 15), Buffer.from([0x81, 2, 0x7b, 0x7d]))
  assert.equal(prepared.bytes(wsDeflateFraming(15))[0], 0xc1)
})
