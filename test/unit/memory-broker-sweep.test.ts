// The memory broker's shared sweep and its control messages, seen from outside: a sweep keeps
// a stream that still holds messages (subscribed or not), a store with a longer TTL does not slow
// the sweep that a shorter one needs, and notify() works for an owner that does not listen.
import assert from 'node:assert/strict'
import { afterEach, test } from 'node:test'
import { MemoryBroker } from '../../src/broker/memory-broker.js'
import { until } from '../support/util.js'

const brokers: MemoryBroker[] = []
afterEach(async () => { for (const b of brokers.splice(0)) await b.close() })

function setup(historyTtlMs: number) {
  const clock = { now: 7_000_000 }
  const broker = new MemoryBroker({ message() {} }, { historyLimit: 10, historyTtlMs, now: () => clock.now })
  brokers.push(broker)
  return { broker, clock }
}

test('a sweep keeps a stream that still holds messages, with no subscriber too, and its epoch with it', async () => {
  const { broker, clock } = setup(10_000)
  const first = await broker.publish('unwatched', '1')
  clock.now += 5_000
  broker.sweep()
  assert.equal(broker.streamCount, 1)
  const second = await broker.publish('unwatched', '2')
  assert.deepEqual([second.offset, second.epoch], [2, first.epoch])
  assert.deepEqual((await broker.history('unwatched', { sinceMs: 0 })).messages.map((m) => m.data), ['1', '2'])
})

test('a store with a longer TTL than history does not slow down the sweep history needs', async () => {
  const { broker, clock } = setup(1_000) // swept every second
  broker.store('long', 3_600_000) // alone it would be swept once a minute
  await broker.publish('old', '1')
  clock.now += 2_000
  await until(() => broker.streamCount === 0, 'the expired stream forgotten by the timer', 5_000)
})

test('notify() resolves for an owner that does not listen to control messages', async () => {
  const broker = new MemoryBroker({ message() {} }, { historyLimit: 1, historyTtlMs: 1_000 })
  brokers.push(broker)
  await broker.notify('jobs.cancel', '{}')
})
