import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MemoryStore } from '../../src/broker/memory-store.js'
import { SessionCache } from '../../src/core/session-cache.js'

// The restore cache's edges that session-cache.test.ts leaves open.

const state = { channels: [{ identifier: 'i', streams: ['s'] }] }
const bytes = JSON.stringify(state).length

test('a state of exactly the size limit is kept; one byte less of limit and it is not, and is counted', async () => {
  const kept = new SessionCache(new MemoryStore(60_000, Date.now), bytes)
  await kept.save('a', state)
  assert.deepEqual(await kept.take('a'), state)
  assert.equal(kept.dropped, 0)
  const refused = new SessionCache(new MemoryStore(60_000, Date.now), bytes - 1)
  await refused.save('a', state)
  assert.equal(await refused.take('a'), undefined)
  assert.equal(refused.dropped, 1)
})

test('a forgotten session cannot be restored; forgetting without a store is harmless', async () => {
  const cache = new SessionCache(new MemoryStore(60_000, Date.now), 1 << 20)
  await cache.save('a', state)
  await cache.save('b', state)
  await cache.forget('a')
  assert.equal(await cache.take('a'), undefined)
  assert.deepEqual(await cache.take('b'), state)
  const none = new SessionCache(undefined, 1 << 20)
  await none.forget('a')
  assert.equal(none.size, 0)
  assert.equal(none.dropped, 0)
})
