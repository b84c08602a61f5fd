import assert from 'node:assert/strict'
import { once } from 'node:events'
import type { ClientHttp2Stream, IncomingHttpHeaders } from 'node:http2'
import { after, before, test } from 'node:test'
import { constants, deflateRawSync, inflateRawSync } from 'node:zlib'
import { PreparedBroadcast } from '../../src/framing/prepared-broadcast.js'
import { wsDeflatedTextFrame, wsDeflateFraming } from '../../src/framing/ws-deflate.js'
import { publicIdentifier } from '../../src/protocol/identifier.js'
import { connectH2 } from '../support/h2.js'
import { alone, clientFrame, extensionsHeader, InflateWindow, parseFrames, DeflateClient, TRAILER, type Frame } from '../support/deflate-client.js'
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

/** A JSON progress event that compresses well, as job progress does. */
const progress = (n: number) => ({ job: 'j-123', state: 'running', step: n, of: 40, message: `processing item ${n} of 40`, items: Array.from({ length: 8 }, (_, i) => ({ id: i, status: 'done' })) })

test('permessage-deflate: a ws client with it gets correct messages; the frames are compressed (RSV1), the same bytes for every such client; a client without it on the same stream gets plain frames', async () => {
  const stream = 'deflate-h1'
  const identifier = publicIdentifier(stream)
  const wsClient = await WireClient.connect(h.wsUrl, 'actioncable-v1-ext-json', { perMessageDeflate: true })
  assert.equal(wsClient.ws.extensions, 'permessage-deflate')
  wsClient.send({ command: 'subscribe', identifier })
  await wsClient.waitForType('confirm_subscription')
  // Chromium's offer, a second compressing client, and one that offers nothing.
  const chromiumLike = await DeflateClient.open(h.wsUrl, 'permessage-deflate; client_max_window_bits')
  // Chromium's offer: Herald keeps its context along a stream (no server_no_context_takeover).
  assert.equal(extensionsHeader(chromiumLike.head), 'permessage-deflate')
  const other = await DeflateClient.open(h.wsUrl, 'permessage-deflate')
  const plain = await DeflateClient.open(h.wsUrl)
  assert.equal(extensionsHeader(plain.head), undefined)
  for (const c of [chromiumLike, other, plain]) await c.subscribe(identifier)

  for (let n = 1; n <= 3; n++) await h.herald.hub.publish(stream, progress(n))
  const got = await wsClient.waitFor((m) => m.message?.step === 3)
  assert.deepEqual(got.message, progress(3))
  assert.deepEqual(wsClient.data(identifier).map((m) => m.message), [progress(1), progress(2), progress(3)])

  await until(() => [chromiumLike, other, plain].every((c) => c.messages().filter((m) => m.message).length === 3), 'three broadcasts on each raw client')
  const dataFrames = (c: DeflateClient) => c.frames.filter((f) => f.opcode === 1 && JSON.parse(f.text).message)
  for (const c of [chromiumLike, other]) {
    const frames = dataFrames(c)
    assert.ok(frames.every((f) => f.rsv1), 'broadcasts are compressed')
    assert.deepEqual(frames.map((f) => JSON.parse(f.text).message), [progress(1), progress(2), progress(3)])
    assert.ok(frames[0].payload.length < frames[0].text.length / 2, `compressed ${frames[0].payload.length} B < half of ${frames[0].text.length} B`)
    // The next ones are compressed against the one before: a fraction of the first's size, and
    // they cannot be inflated without the client's window.
    for (const f of frames.slice(1)) {
      assert.ok(f.payload.length < frames[0].payload.length / 2, `along the stream ${f.payload.length} B < half of ${frames[0].payload.length} B`)
      assert.throws(() => alone(f), /invalid distance/)
    }
  }
  assert.deepEqual(dataFrames(chromiumLike).map((f) => f.payload), dataFrames(other).map((f) => f.payload), 'one compressed frame serves both')
  assert.ok(dataFrames(plain).every((f) => !f.rsv1), 'a client that did not negotiate gets plain frames')
  assert.deepEqual(dataFrames(plain).map((f) => JSON.parse(f.payload.toString()).message), [progress(1), progress(2), progress(3)])
  // Per-connection replies go uncompressed (RSV1 clear is allowed per message).
  assert.ok(!chromiumLike.frames[0].rsv1)
  wsClient.close()
  for (const c of [chromiumLike, other, plain]) c.socket.destroy()
})

test('a client that asks for server_no_context_takeover gets it: every broadcast compressed on its own', async () => {
  const identifier = publicIdentifier('deflate-no-takeover')
  const c = await DeflateClient.open(h.wsUrl, 'permessage-deflate; server_no_context_takeover; client_max_window_bits')
  assert.equal(extensionsHeader(c.head), 'permessage-deflate; server_no_context_takeover')
  await c.subscribe(identifier)
  for (let n = 1; n <= 3; n++) await h.herald.hub.publish('deflate-no-takeover', progress(n))
  await until(() => c.messages().filter((m) => m.message).length === 3, 'three broadcasts')
  const frames = c.frames.filter((f) => f.opcode === 1 && JSON.parse(f.text).message)
  assert.ok(frames.every((f) => f.rsv1))
  assert.deepEqual(frames.map((f) => JSON.parse(alone(f)).message), [progress(1), progress(2), progress(3)], 'each inflates with no window')
  c.socket.destroy()
})

test('compressed along a stream, every client reads every message: one on two interleaved streams, one that joins late, one that catches up from history, and ws as the client', async () => {
  const [a, b] = ['deflate-along-a', 'deflate-along-b']
  const [ida, idb] = [publicIdentifier(a), publicIdentifier(b)]
  const both = await DeflateClient.open(h.wsUrl, 'permessage-deflate; client_max_window_bits')
  await both.subscribe(ida)
  await both.subscribe(idb)
  const onlyA = await DeflateClient.open(h.wsUrl, 'permessage-deflate; client_max_window_bits')
  await onlyA.subscribe(ida)
  const wsClient = await WireClient.connect(h.wsUrl, 'actioncable-v1-ext-json', { perMessageDeflate: true })
  wsClient.send({ command: 'subscribe', identifier: ida })
  wsClient.send({ command: 'subscribe', identifier: idb })
  await wsClient.waitFor((m) => m.type === 'confirm_subscription' && m.identifier === idb)

  const publish = async (stream: string, n: number) => { await h.herald.hub.publish(stream, { ...progress(n), stream }) }
  const got = (client: DeflateClient, id: string) => client.messages().filter((m) => m.identifier === id && m.message).map((m) => m.message.step)
  const order: [string, number][] = [[a, 1], [a, 2], [b, 1], [a, 3], [b, 2], [b, 3], [a, 4]]
  for (const [stream, n] of order) await publish(stream, n)
  // Joins after a4: its first frame of a must not refer to messages it never got.
  const late = await DeflateClient.open(h.wsUrl, 'permessage-deflate; client_max_window_bits')
  await late.subscribe(ida)
  // Replays a1..a4 from history (each compressed on its own), then follows live.
  const replay = await DeflateClient.open(h.wsUrl, 'permessage-deflate; client_max_window_bits')
  replay.send({ command: 'subscribe', identifier: ida, history: { since: 1 } })
  await until(() => replay.messages().filter((m) => m.message).length === 4, 'the history of a')
  // A catch-up on a client that follows live streams: its frames change the window too, so a5
  // must not be compressed against a4 for it.
  const c = 'deflate-along-c'
  for (const n of [1, 2]) await publish(c, n)
  both.send({ command: 'subscribe', identifier: publicIdentifier(c), history: { since: 1 } })
  await until(() => got(both, publicIdentifier(c)).length === 2, 'the history of c')
  for (const n of [5, 6, 7]) await publish(a, n)
  await publish(b, 4)
  await publish(a, 8)

  await until(() => got(both, ida).length === 8 && got(both, idb).length === 4 && got(onlyA, ida).length === 8 && got(late, ida).length === 4 && got(replay, ida).length === 8, 'every message on every raw client')
  assert.deepEqual(got(both, ida), [1, 2, 3, 4, 5, 6, 7, 8])
  assert.deepEqual(got(both, idb), [1, 2, 3, 4])
  assert.deepEqual(got(onlyA, ida), [1, 2, 3, 4, 5, 6, 7, 8])
  assert.deepEqual(got(late, ida), [5, 6, 7, 8])
  assert.deepEqual(got(replay, ida), [1, 2, 3, 4, 5, 6, 7, 8])
  await wsClient.waitFor((m) => m.identifier === ida && m.message?.step === 8)
  assert.deepEqual(wsClient.data(ida).map((m) => m.message.step), [1, 2, 3, 4, 5, 6, 7, 8])
  assert.deepEqual(wsClient.data(idb).map((m) => m.message.step), [1, 2, 3, 4])
  assert.equal(wsClient.ws.readyState, wsClient.ws.OPEN, 'ws inflated every frame (a bad one closes 1007)')

  // Clients in the same state share one frame: onlyA and late both had a5 last when a6 went out.
  const frameOf = (c: DeflateClient, step: number) => c.frames.find((f) => f.opcode === 1 && JSON.parse(f.text).identifier === ida && JSON.parse(f.text).message?.step === step)!
  assert.deepEqual(frameOf(late, 6).payload, frameOf(onlyA, 6).payload)
  assert.throws(() => alone(frameOf(onlyA, 6)), /invalid distance/, 'a6 went out compressed against a5')
  wsClient.close()
  for (const c of [both, onlyA, late, replay]) c.socket.destroy()
})

test('permessage-deflate offers: server_max_window_bits is honoured, an 8-bit window is declined (plain frames), and without --ws-compression nothing is negotiated', async () => {
  const stream = 'deflate-offers'
  const identifier = publicIdentifier(stream)
  const small = await DeflateClient.open(h.wsUrl, 'permessage-deflate; server_max_window_bits=10; client_no_context_takeover')
  assert.equal(extensionsHeader(small.head), 'permessage-deflate; server_max_window_bits=10; client_no_context_takeover')
  const eight = await DeflateClient.open(h.wsUrl, 'permessage-deflate; server_max_window_bits=8')
  assert.equal(extensionsHeader(eight.head), undefined)
  const fallback = await DeflateClient.open(h.wsUrl, 'permessage-deflate; server_max_window_bits=8, permessage-deflate')
  assert.equal(extensionsHeader(fallback.head), 'permessage-deflate', 'the next offer is taken')
  const off = await DeflateClient.open(plainHerald.wsUrl, 'permessage-deflate; client_max_window_bits')
  assert.equal(extensionsHeader(off.head), undefined)
  for (const c of [small, eight, fallback]) await c.subscribe(identifier)
  await off.subscribe(identifier)

  await h.herald.hub.publish(stream, progress(7))
  await plainHerald.herald.hub.publish(stream, progress(7))
  await until(() => [small, eight, fallback, off].every((c) => c.messages().some((m) => m.message)), 'the broadcast everywhere')
  const data = (c: DeflateClient) => c.frames.find((f) => f.opcode === 1 && JSON.parse(f.text).message)!
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
  const window = new InflateWindow()
  stream.on('data', (chunk: Buffer) => {
    const { frames, rest } = parseFrames(Buffer.concat([buf, chunk]))
    for (const f of frames) f.text = window.text(f)
    out.frames.push(...frames)
    buf = Buffer.from(rest)
  })
  return out
}

test('permessage-deflate over HTTP/2 (RFC 8441): negotiated on extended CONNECT, compressed broadcasts to it and plain ones to a stream without it; a bomb closes 1009', async () => {
  const stream = 'deflate-h2'
  const identifier = publicIdentifier(stream)
  const subscribe = clientFrame(Buffer.from(JSON.stringify({ command: 'subscribe', identifier })))
  const msgs = (c: { frames: Frame[] }) => c.frames.filter((f) => f.opcode === 1).map((f) => ({ f, m: JSON.parse(f.text) }))
  const deflated = await h2Raw(h.url, 'permessage-deflate; client_max_window_bits')
  assert.equal(deflated.headers[':status'], 200)
  assert.equal(deflated.headers['sec-websocket-extensions'], 'permessage-deflate')
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
