import assert from 'node:assert/strict'
import { test } from 'node:test'
import { PreparedBroadcast } from '../../src/framing/prepared-broadcast.js'
import { SessionCache } from '../../src/core/session-cache.js'
import type { StreamMessage } from '../../src/protocol/messages.js'
import { defineFraming, type Framing } from '../../src/framing/framing.js'

const state = { channels: [{ identifier: 'i', streams: ['s'] }] }

test('a saved session is restorable once within its TTL', () => {
  const cache = new SessionCache(1000)
  cache.save('a', state, 0)
  assert.equal(cache.size, 1)
  assert.deepEqual(cache.take('a', 999), state)
  assert.equal(cache.take('a', 999), undefined, 'only once')
  assert.equal(cache.size, 0)
})

test('an expired session is not restored, and the sweep forgets it', () => {
  const cache = new SessionCache(1000)
  cache.save('a', state, 0)
  cache.save('b', state, 500)
  assert.equal(cache.take('a', 1000), undefined)
  cache.sweep(1499)
  assert.equal(cache.size, 1)
  cache.sweep(1500)
  assert.equal(cache.size, 0)
  assert.equal(cache.take('unknown'), undefined)
})

test('sessionsTtl 0 keeps nothing', () => {
  const cache = new SessionCache(0)
  cache.save('a', state)
  assert.equal(cache.size, 0)
  assert.equal(cache.take('a'), undefined)
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
