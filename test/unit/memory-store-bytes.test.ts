// The memory store's byte budget (maxBytes: the restore cache's bound): values that fill it
// exactly are all kept, one more byte pushes the oldest out, and a deleted or taken value gives
// its bytes back.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MemoryStore } from '../../src/broker/memory-store.js'

test('values filling maxBytes exactly are all kept; one byte more pushes the oldest out', async () => {
  const store = new MemoryStore(60_000, () => 0, { maxBytes: 4 })
  await store.set('a', '12')
  await store.set('b', '34')
  assert.deepEqual([store.size, store.evicted, await store.get('a')], [2, 0, '12'])
  await store.set('c', '5')
  assert.deepEqual([store.size, store.evicted, await store.get('a'), await store.get('c')], [2, 1, undefined, '5'])
})

test('a deleted or taken value gives its bytes back', async () => {
  const store = new MemoryStore(60_000, () => 0, { maxBytes: 4 })
  await store.set('a', '1234')
  await store.delete('a')
  await store.set('b', '12')
  assert.equal(await store.take('b'), '12')
  await store.set('c', '12')
  await store.set('d', '34')
  assert.deepEqual([store.size, store.evicted], [2, 0])
})
