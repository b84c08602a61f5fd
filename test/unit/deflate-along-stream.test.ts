import assert from 'node:assert/strict'
import { afterEach, test } from 'node:test'
import { setImmediate as turn } from 'node:timers/promises'
import { defineFraming } from '../../src/framing/framing.js'
import { wsDeflateFraming } from '../../src/framing/ws-deflate.js'
import { wsFraming } from '../../src/framing/ws-frame.js'
import { publicIdentifier } from '../../src/protocol/identifier.js'
import { alone, InflateWindow, parseFrames, type Frame } from '../support/deflate-client.js'
import type { FakeWire } from '../support/fake-wire.js'
import { testCore, type TestCore } from '../support/core.js'
import { until } from '../support/util.js'

// permessage-deflate along a stream (framing/ws-deflate.ts), on a real hub and memory broker:
// the frames each connection is handed, inflated as its client would inflate them (one window
// across the connection's compressed messages). A frame compressed against bytes the client
// does not have fails to inflate.

const cores: TestCore[] = []
afterEach(async () => { for (const c of cores.splice(0)) await c.close() })
const following = { framing: wsDeflateFraming(15, true) }

function setup(): TestCore {
  const t = testCore()
  cores.push(t)
  return t
}

/** The wire's frames, each with the text its client inflates. */
function frames(wire: FakeWire): Frame[] {
  const window = new InflateWindow()
  const { frames: all, rest } = parseFrames(Buffer.concat(wire.bytes))
  assert.equal(rest.length, 0, 'whole frames only')
  for (const f of all) f.text = window.text(f)
  return all
}

/** [stream, step] of each data message, in order, as the client reads them. */
const received = (wire: FakeWire) => frames(wire).map((f) => JSON.parse(f.text)).filter((m) => m.message).map((m) => [m.stream_id, m.message.step])
const progress = (step: number) => ({ job: 'j-1', state: 'running', step, of: 100, message: `processing item ${step} of 100`, detail: 'x'.repeat(80) })
const data = (wire: FakeWire) => frames(wire).filter((f) => JSON.parse(f.text).message)

test('each broadcast after the first is compressed against the one before, once for every connection in the same state', async () => {
  const t = setup()
  const a = t.connect(following)
  const b = t.connect(following)
  for (const { conn } of [a, b]) await conn.subscribe(publicIdentifier('s'))
  for (let step = 1; step <= 4; step++) await t.hub.publish('s', progress(step))
  await turn()
  assert.deepEqual(received(a.wire), [['s', 1], ['s', 2], ['s', 3], ['s', 4]])
  const [first, ...rest] = data(a.wire)
  assert.ok(first.rsv1 && alone(first) === first.text, 'the first stands alone')
  for (const f of rest) {
    assert.ok(f.rsv1)
    assert.throws(() => alone(f), /invalid distance/, 'the next ones refer back to the one before')
    assert.ok(f.payload.length < first.payload.length / 2)
  }
  // One frame per broadcast: the very same bytes object went to both connections.
  const framesOf = (w: FakeWire) => w.bytes.filter((buf) => (buf[0]! & 0x40) !== 0)
  assert.equal(framesOf(a.wire).length, 4)
  framesOf(a.wire).forEach((buf, i) => assert.equal(buf, framesOf(b.wire)[i]))
})

test('a connection on two interleaved streams, one that joins late and one that replays history each read every message', async () => {
  const t = setup()
  const both = t.connect(following)
  await both.conn.subscribe(publicIdentifier('a'))
  await both.conn.subscribe(publicIdentifier('b'))
  const steps: [string, number][] = [['a', 1], ['a', 2], ['b', 1], ['a', 3], ['b', 2], ['b', 3], ['a', 4]]
  let epoch = ''
  for (const [stream, step] of steps) ({ epoch } = await t.hub.publish(stream, { ...progress(step), stream }))
  const late = t.connect(following)
  await late.conn.subscribe(publicIdentifier('a'))
  // A replay of a from offset 1 (compressed on its own) on a connection that follows b live.
  const replay = t.connect(following)
  await replay.conn.subscribe(publicIdentifier('b'))
  await t.hub.publish('b', { ...progress(4), stream: 'b' })
  await replay.conn.subscribe(publicIdentifier('a'), { streams: { a: { epoch, offset: 1 } } })
  // b5 first: the replay changed that client's window, so b5 must not go out against b4 to it.
  for (const [stream, step] of [['b', 5], ['a', 5], ['a', 6]] as const) await t.hub.publish(stream, { ...progress(step), stream })
  await until(() => received(replay.wire).length === 7, 'the replay and what followed')
  await turn()
  assert.deepEqual(received(both.wire), [...steps, ['b', 4], ['b', 5], ['a', 5], ['a', 6]])
  assert.deepEqual(received(late.wire), [['a', 5], ['a', 6]])
  assert.deepEqual(received(replay.wire), [['b', 4], ['a', 2], ['a', 3], ['a', 4], ['b', 5], ['a', 5], ['a', 6]])
})

test('a framing that does not follow streams (the client asked for server_no_context_takeover) compresses every broadcast on its own', async () => {
  const t = setup()
  const { wire, conn } = t.connect({ framing: wsDeflateFraming(15) })
  await conn.subscribe(publicIdentifier('s'))
  for (let step = 1; step <= 3; step++) await t.hub.publish('s', progress(step))
  await turn()
  const got = data(wire)
  assert.equal(got.length, 3)
  for (const f of got) assert.ok(f.rsv1 && alone(f) === f.text)
})

test('on a stream whose subscribers use several identifiers, each identifier\'s connections follow it, whatever framing the others have', async () => {
  const t = setup()
  // The same stream named by an identifier with its keys the other way round, by a following
  // connection and by one whose framing does not compress (subscribed last, so fanned out last).
  const reordered = JSON.stringify({ stream_name: 's', channel: '$pubsub' })
  const a = t.connect(following)
  await a.conn.subscribe(publicIdentifier('s'))
  const b = t.connect(following)
  await b.conn.subscribe(reordered)
  const plain = t.connect()
  await plain.conn.subscribe(reordered)
  for (let step = 1; step <= 4; step++) await t.hub.publish('s', progress(step))
  await turn()
  for (const { wire } of [a, b]) {
    assert.deepEqual(received(wire), [['s', 1], ['s', 2], ['s', 3], ['s', 4]])
    for (const f of data(wire).slice(1)) assert.throws(() => alone(f), /invalid distance/, 'compressed against the one before for this identifier')
  }
  assert.deepEqual(plain.wire.messages().filter((m) => m.message).map((m) => m.message.step), [1, 2, 3, 4])
})

test("a frame that leaves the client's window as it was (one sent plain) is not what the next broadcast is told the window ends with", async () => {
  // A framing that records the `last` the connection passes it and says every other frame
  // changes the window (as a compressed one does; deflate sends a message plain when it would
  // not shrink, and a plain message does not enter the client's window).
  const calls: [seq: number, last: number][] = []
  const recording = defineFraming({
    name: 'recording-follow',
    reply: wsFraming.reply,
    transmit: wsFraming.transmit,
    data: () => Buffer.from([0]),
    follow(prepared, last) {
      calls.push([prepared.seq, last])
      return Buffer.from([calls.length % 2])
    },
    extendsWindow: (frame) => frame[0] === 1,
  })
  const t = setup()
  const { conn } = t.connect({ framing: recording })
  await conn.subscribe(publicIdentifier('s'))
  for (let step = 1; step <= 4; step++) await t.hub.publish('s', progress(step))
  await turn()
  const seqs = calls.map(([seq]) => seq)
  assert.equal(seqs.length, 4)
  // 1 changes the window, 2 does not, 3 does, 4 does not.
  assert.deepEqual(calls.map(([, last]) => last), [0, seqs[0], seqs[0], seqs[2]])
})
