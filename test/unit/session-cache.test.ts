import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MemoryStore } from '../../src/broker/memory-store.js'
import { SessionCache } from '../../src/core/session-cache.js'
import { PreparedBroadcast } from '../../src/framing/prepared-broadcast.js'
import { defineFraming, type Framing } from '../../src/framing/framing.js'
import type { StreamMessage } from '../../src/protocol/messages.js'

const state = { channels: [{ identifier: 'i', streams: ['s'] }] }

/** A restore cache on a memory store with a hand-driven clock. */
function setup(ttlMs = 1000, limits = {}, maxStateBytes = 1 << 20) {
  const clock = { now: 0 }
  const store = new MemoryStore(ttlMs, () => clock.now, limits)
  return { clock, store, cache: new SessionCache(store, maxStateBytes) }
}

test('a saved session is restorable once within its TTL', async () => {
  const { clock, cache } = setup()
  await cache.save('a', state)
  assert.equal(cache.size, 1)
  clock.now = 999
  assert.deepEqual(await cache.take('a'), state)
  assert.equal(await cache.take('a'), undefined, 'only once')
  assert.equal(cache.size, 0)
})

test('an expired session is not restored, and the sweep forgets it', async () => {
  const { clock, store, cache } = setup()
  await cache.save('a', state)
  clock.now = 500
  await cache.save('b', state)
  clock.now = 1000
  assert.equal(await cache.take('a'), undefined)
  clock.now = 1499
  store.sweep()
  assert.equal(cache.size, 1)
  clock.now = 1500
  store.sweep()
  assert.equal(cache.size, 0)
  assert.equal(await cache.take('unknown'), undefined)
})

test('sessionsTtl 0 keeps nothing', async () => {
  const cache = new SessionCache(undefined, 1 << 20)
  await cache.save('a', state)
  assert.equal(cache.size, 0)
  assert.equal(await cache.take('a'), undefined)
})

test('the restore cache is bounded: the oldest sessions go first, an oversized state is not kept, and both are counted', async () => {
  const { cache } = setup(60_000, { maxEntries: 2 }, 200)
  for (const sid of ['a', 'b', 'c']) await cache.save(sid, state)
  assert.equal(cache.size, 2)
  assert.equal(await cache.take('a'), undefined, 'the oldest was pushed out')
  assert.deepEqual(await cache.take('c'), state)
  const huge = { channels: [{ identifier: 'x'.repeat(500), streams: ['s'] }] }
  await cache.save('d', huge)
  assert.equal(await cache.take('d'), undefined)
  assert.equal(cache.dropped, 2)
  const bytes = setup(60_000, { maxBytes: 120 })
  for (const sid of ['a', 'b', 'c']) await bytes.cache.save(sid, state)
  assert.ok(bytes.store.size < 3 && bytes.store.evicted > 0, 'bytes bound the store too')
})

test('a prepared broadcast is encoded once per framing and shared', () => {
  const calls: string[] = []
  const framing = (name: string): Framing => defineFraming({
    name,
    reply: (reply) => Buffer.from(reply.json),
    transmit: (_identifier, message) => Buffer.from(message),
    data: (prepared) => { calls.push(name); return Buffer.from(`${name}:${prepared.json()}`) },
  })
  const a = framing('a')
  const b = framing('b')
  const m: StreamMessage = { stream: 's', data: '{"x":1}', offset: 3, epoch: 'e', at: 0 }
  const p = new PreparedBroadcast('id', m)
  const first = p.bytes(a)
  assert.equal(p.bytes(a), first, 'the same buffer for every subscriber')
  assert.equal(first.toString(), 'a:{"identifier":"id","message":{"x":1},"stream_id":"s","epoch":"e","offset":3}')
  p.bytes(b)
  p.bytes(b)
  assert.deepEqual(calls, ['a', 'b'])
})
