import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setImmediate as turn } from 'node:timers/promises'
import { Outbox } from '../../src/core/outbox.js'
import { FakeWire } from '../support/fake-wire.js'

// Backpressure edges that outbox.test.ts leaves open.

function setup(budget = 1000) {
  const session = new FakeWire()
  const owner = { slow: 0, tooSlow() { this.slow++ } }
  return { session, owner, outbox: new Outbox(session, budget, owner) }
}

test('a single frame queued while blocked goes out once the session drains', async () => {
  const { session, outbox } = setup()
  session.accept = false
  outbox.push(Buffer.from('a'))
  await turn()
  outbox.push(Buffer.from('b'))
  session.accept = true
  outbox.drained()
  await turn()
  assert.deepEqual(session.writes, [['a'], ['b']])
})

test('pushNow bypasses batching, not backpressure: while blocked it waits for the drain', async () => {
  const { session, outbox } = setup()
  session.accept = false
  outbox.push(Buffer.from('a'))
  await turn()
  outbox.pushNow(Buffer.from('bye'))
  assert.deepEqual(session.writes, [['a']])
  session.accept = true
  outbox.drained()
  await turn()
  assert.deepEqual(session.writes, [['a'], ['bye']])
})

test('a burst handed to a session that then holds exactly the budget is not too slow; a byte more is', () => {
  const { session, owner, outbox } = setup(100)
  session.bufferedBytes = 100
  outbox.push(Buffer.alloc(1)) // 1 + 100 over the budget: handed over at once, and the session holds 100
  assert.equal(owner.slow, 0)
  assert.equal(session.writes.length, 1)
  session.bufferedBytes = 101
  outbox.push(Buffer.alloc(1))
  assert.equal(owner.slow, 1)
})
