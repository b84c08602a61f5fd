import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setImmediate as turn } from 'node:timers/promises'
import { Outbox } from '../../src/core/outbox.js'
import { FakeWire } from '../support/fake-wire.js'

function setup(budget = 1000) {
  const session = new FakeWire()
  const owner = { slow: 0, tooSlow() { this.slow++ } }
  const outbox = new Outbox(session, budget, owner)
  return { session, owner, outbox }
}
const frame = (s: string) => Buffer.from(s)
/** The end of the running code: the microtasks run, the event loop has not moved on. */
const callbackEnd = () => new Promise<void>((resolve) => queueMicrotask(resolve))

test('a quiet outbox writes what the running code gave it as one write; later frames in that turn go out as one write on the next turn', async () => {
  const { session, outbox } = setup()
  outbox.push(frame('a'))
  outbox.push(frame('b'))
  assert.deepEqual(session.writes, [], 'nothing is written inside push')
  await callbackEnd()
  assert.deepEqual(session.writes, [['a', 'b']], 'an idle outbox writes before the event loop moves on')
  outbox.push(frame('c'))
  outbox.push(frame('d'))
  await callbackEnd()
  assert.deepEqual(session.writes, [['a', 'b']], 'the rest of the turn is batched')
  assert.equal(outbox.pendingBytes, 2)
  await turn()
  assert.deepEqual(session.writes, [['a', 'b'], ['c', 'd']])
  assert.equal(outbox.pendingBytes, 0)
  await turn() // a turn without frames: quiet again
  outbox.push(frame('e'))
  await callbackEnd()
  assert.deepEqual(session.writes, [['a', 'b'], ['c', 'd'], ['e']], 'written at once again')
  outbox.push(frame('f'))
  await turn()
  assert.deepEqual(session.writes, [['a', 'b'], ['c', 'd'], ['e'], ['f']])
})

test('a single frame per turn is written at once every turn (the everyday rate)', async () => {
  const { session, outbox } = setup()
  for (const f of ['1', '2', '3']) {
    outbox.push(frame(f))
    await callbackEnd()
    assert.equal(session.writes.at(-1)?.[0], f, `frame ${f} written in its own turn`)
    await turn()
  }
  assert.deepEqual(session.writes, [['1'], ['2'], ['3']])
})

test('while frames pile up turn after turn, each turn is one write (the first frame of a busy turn waits too)', async () => {
  const { session, outbox } = setup()
  outbox.push(frame('a1'))
  await callbackEnd()
  outbox.push(frame('a2'))
  await turn()
  assert.deepEqual(session.writes, [['a1'], ['a2']])
  outbox.push(frame('b1'))
  await callbackEnd()
  outbox.push(frame('b2'))
  await callbackEnd()
  assert.equal(session.writes.length, 2, 'right after a batch: the outbox is still batching')
  await turn()
  assert.deepEqual(session.writes.at(-1), ['b1', 'b2'], 'one write for the turn')
  outbox.push(frame('c1'))
  await callbackEnd()
  outbox.push(frame('c2'))
  await turn()
  assert.deepEqual(session.writes, [['a1'], ['a2'], ['b1', 'b2'], ['c1', 'c2']])
})

test('writing at once in one outbox does not make another batch: each outbox has its own first frame per turn', async () => {
  const one = setup()
  const two = setup()
  one.outbox.push(frame('1'))
  two.outbox.push(frame('2'))
  await callbackEnd()
  assert.deepEqual([one.session.writes, two.session.writes], [[['1']], [['2']]])
})

test('several outboxes are flushed in the same turn', async () => {
  const one = setup()
  const two = setup()
  one.outbox.push(frame('1'))
  two.outbox.push(frame('2'))
  await callbackEnd()
  one.outbox.push(frame('3'))
  two.outbox.push(frame('4'))
  await turn()
  assert.deepEqual([one.session.writes, two.session.writes], [[['1'], ['3']], [['2'], ['4']]])
})

test('after write() returns false nothing is written until drained, then the backlog goes as one batch', async () => {
  const { session, outbox } = setup()
  session.accept = false
  outbox.push(frame('a'))
  await turn()
  assert.deepEqual(session.writes, [['a']])
  outbox.push(frame('b'))
  outbox.push(frame('c'))
  await turn()
  await turn()
  assert.deepEqual(session.writes, [['a']], 'blocked: no write before drain')
  assert.equal(outbox.pendingBytes, 2)
  session.accept = true
  outbox.drained()
  await turn()
  assert.deepEqual(session.writes, [['a'], ['b', 'c']])
  outbox.drained() // a spurious drain with nothing queued writes nothing
  await turn()
  assert.equal(session.writes.length, 2)
})

test('pushNow writes at once, after what was queued', async () => {
  const { session, outbox } = setup()
  outbox.push(frame('first'))
  outbox.push(frame('queued'))
  outbox.pushNow(frame('final'))
  assert.deepEqual(session.writes, [['first', 'queued', 'final']])
  await turn()
  assert.equal(session.writes.length, 1, 'nothing left for the quiet write')
})

test('over the budget (queued + session-buffered bytes) the owner is told once and nothing more is written', async () => {
  const { session, owner, outbox } = setup(100)
  session.accept = false
  outbox.push(Buffer.alloc(40, 'x'))
  await turn()
  assert.equal(session.writes.length, 1)
  session.bufferedBytes = 40 // the session still holds the first write
  outbox.push(Buffer.alloc(40, 'y'))
  assert.equal(owner.slow, 0, '80 bytes: within budget')
  assert.equal(outbox.totalBytes, 80)
  outbox.push(Buffer.alloc(40, 'z'))
  assert.equal(owner.slow, 1, '120 bytes: over budget')
  assert.equal(outbox.pendingBytes, 0, 'the queue is dropped')
  outbox.push(frame('more'))
  outbox.pushNow(frame('more'))
  session.accept = true
  outbox.drained()
  await turn()
  assert.equal(owner.slow, 1, 'told once')
  assert.equal(session.writes.length, 1, 'nothing written after the overflow')
})

test('a burst over the budget is handed to the session at once; only what the session cannot pass on counts', async () => {
  const { session, owner, outbox } = setup(100)
  for (let i = 0; i < 6; i++) outbox.push(Buffer.alloc(30, String(i)))
  assert.equal(owner.slow, 0, 'the session took the burst')
  assert.deepEqual(session.writes.map((w) => w.length), [4], 'early, as soon as the queue passed the budget')
  await callbackEnd()
  assert.deepEqual(session.writes.map((w) => w.length), [4, 2], 'the rest before the event loop moves on')
  await turn()
  assert.equal(session.writes.length, 2)
  const big = setup(10)
  big.outbox.push(Buffer.alloc(11))
  assert.equal(big.owner.slow, 0, 'one frame larger than the budget, to a session that takes it')
  assert.equal(big.session.writes.length, 1)
})

test('a burst over the budget to a session that keeps it buffered overflows', () => {
  const { session, owner, outbox } = setup(100)
  session.accept = false
  outbox.push(Buffer.alloc(60))
  outbox.push(Buffer.alloc(60)) // over: written early, write() says false
  assert.equal(owner.slow, 0, 'written, and the session buffers nothing yet')
  session.bufferedBytes = 120
  outbox.push(Buffer.alloc(1))
  assert.equal(owner.slow, 1)
})

test('exactly the budget is still fine', async () => {
  const { session, owner, outbox } = setup(10)
  outbox.push(Buffer.alloc(10))
  assert.equal(owner.slow, 0)
  await turn()
  assert.equal(session.writes.length, 1)
})

test('close drops what is queued and ignores later pushes', async () => {
  const { session, outbox } = setup()
  outbox.push(frame('a'))
  outbox.push(frame('queued'))
  outbox.close()
  outbox.push(frame('b'))
  outbox.pushNow(frame('c'))
  await turn()
  assert.deepEqual(session.writes, [], 'not even the frames of the running code')
  assert.equal(outbox.pendingBytes, 0)
})

test('a lazy frame waits for the next write and rides along with it; release() sends it alone when none came', async () => {
  const { session, outbox } = setup()
  outbox.pushLazy(frame('ping1'))
  await turn()
  assert.deepEqual(session.writes, [], 'a lazy frame alone schedules nothing')
  outbox.push(frame('data'))
  await callbackEnd()
  assert.deepEqual(session.writes, [['ping1', 'data']], 'one write, at once, carries both, in order')
  await turn()
  outbox.release()
  await turn()
  assert.equal(session.writes.length, 1, 'nothing left to release')
  outbox.pushLazy(frame('ping2'))
  outbox.release()
  await turn()
  assert.deepEqual(session.writes.at(-1), ['ping2'])
  outbox.close()
  outbox.pushLazy(frame('ping3'))
  outbox.release()
  await turn()
  assert.equal(session.writes.length, 2, 'a closed outbox takes no lazy frame')
})
