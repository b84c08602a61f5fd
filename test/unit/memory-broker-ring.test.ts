// The memory broker's ring after expiry: a growing ring whose oldest messages expired (the kept
// ones move to the front before the next push), a full ring whose oldest expired (the next
// message fills the freed slot, then the ring wraps again), a full ring emptied by expiry, the
// exact TTL boundary, and the shared sweep that reclaims expired history and store values.
// Every expectation is what a history read or the broker's stats show; the clock is injected.
import assert from 'node:assert/strict'
import { afterEach, describe, test } from 'node:test'
import { HistoryUnavailable } from '../../src/broker/broker.js'
import { MemoryBroker } from '../../src/broker/memory-broker.js'
import type { StreamMessage } from '../../src/protocol/messages.js'
import { until } from '../support/util.js'

const brokers: MemoryBroker[] = []
afterEach(async () => { for (const b of brokers.splice(0)) await b.close() })

function setup(historyLimit: number, historyTtlMs: number) {
  const clock = { now: 5_000_000 }
  const broker = new MemoryBroker({ message() {} }, { historyLimit, historyTtlMs, now: () => clock.now })
  brokers.push(broker)
  return { broker, clock }
}

const offsets = (list: StreamMessage[]) => list.map((m) => m.offset)
const datas = (list: StreamMessage[]) => list.map((m) => m.data)
const gone = (err: unknown) => err instanceof HistoryUnavailable && /no longer kept/.test(err.message)

/** Everything kept, read both ways (by time and after the oldest kept position's predecessor). */
async function kept(broker: MemoryBroker, stream: string): Promise<number[]> {
  const { messages, top } = await broker.history(stream, { sinceMs: 0 })
  if (messages.length > 0) {
    const after = await broker.history(stream, { after: { epoch: top.epoch, offset: messages[0].offset - 1 } })
    assert.deepEqual(after.messages, messages, 'history after a position and since a time agree')
  }
  return offsets(messages)
}

describe('MemoryBroker ring after expiry', () => {
  test('a growing ring whose oldest messages expired keeps the rest in order and grows up to its limit', async () => {
    const { broker, clock } = setup(5, 10_000)
    const t0 = clock.now
    const { epoch } = await broker.publish('g', '1')
    await broker.publish('g', '2')
    clock.now = t0 + 6_000
    await broker.publish('g', '3')
    clock.now = t0 + 11_000 // 1 and 2 are older than 10 s, 3 is not
    await broker.publish('g', '4')
    assert.deepEqual(await kept(broker, 'g'), [3, 4])
    await assert.rejects(broker.history('g', { after: { epoch, offset: 1 } }), gone)
    for (let i = 5; i <= 7; i++) await broker.publish('g', String(i))
    assert.deepEqual(await kept(broker, 'g'), [3, 4, 5, 6, 7], 'five kept: the limit')
    await broker.publish('g', '8')
    assert.deepEqual(await kept(broker, 'g'), [4, 5, 6, 7, 8], 'past the limit the oldest goes')
    assert.deepEqual(datas((await broker.history('g', { after: { epoch, offset: 6 } })).messages), ['7', '8'])
  })

  test('a full ring whose oldest expired: the next message takes the freed slot, then the ring wraps again', async () => {
    const { broker, clock } = setup(3, 10_000)
    const t0 = clock.now
    const { epoch } = await broker.publish('f', '1')
    clock.now = t0 + 6_000
    await broker.publish('f', '2')
    await broker.publish('f', '3')
    clock.now = t0 + 11_000 // only 1 expired
    assert.deepEqual(await kept(broker, 'f'), [2, 3])
    await broker.publish('f', '4')
    assert.deepEqual(await kept(broker, 'f'), [2, 3, 4])
    await broker.publish('f', '5')
    assert.deepEqual(await kept(broker, 'f'), [3, 4, 5])
    await assert.rejects(broker.history('f', { after: { epoch, offset: 1 } }), gone)
    await broker.publish('f', '6')
    await broker.publish('f', '7')
    assert.deepEqual(await kept(broker, 'f'), [5, 6, 7])
    assert.deepEqual(datas((await broker.history('f', { after: { epoch, offset: 4 }, limit: 2 })).messages), ['5', '6'])
  })

  test('a full ring whose two oldest expired takes two more before it wraps', async () => {
    const { broker, clock } = setup(3, 10_000)
    const t0 = clock.now
    for (let i = 1; i <= 4; i++) await broker.publish('w', String(i)) // wrapped once: 2, 3, 4
    clock.now = t0 + 6_000
    await broker.publish('w', '5') // 3, 4, 5
    clock.now = t0 + 11_000 // 3 and 4 expired
    assert.deepEqual(await kept(broker, 'w'), [5])
    await broker.publish('w', '6')
    await broker.publish('w', '7')
    assert.deepEqual(await kept(broker, 'w'), [5, 6, 7])
    await broker.publish('w', '8')
    assert.deepEqual(await kept(broker, 'w'), [6, 7, 8])
  })

  test('a full ring emptied by expiry refills from the next message, in the same epoch', async () => {
    const { broker, clock } = setup(3, 10_000)
    const t0 = clock.now
    let epoch = ''
    for (let i = 1; i <= 5; i++) epoch = (await broker.publish('e', String(i))).epoch // 3, 4, 5
    clock.now = t0 + 20_000
    assert.deepEqual(await kept(broker, 'e'), [])
    const six = await broker.publish('e', '6')
    assert.deepEqual([six.offset, six.epoch], [6, epoch])
    assert.deepEqual(await kept(broker, 'e'), [6])
    await assert.rejects(broker.history('e', { after: { epoch, offset: 4 } }), gone)
    for (let i = 7; i <= 9; i++) await broker.publish('e', String(i))
    assert.deepEqual(await kept(broker, 'e'), [7, 8, 9])
    assert.deepEqual(datas((await broker.history('e', { after: { epoch, offset: 8 } })).messages), ['9'])
  })

  test('a message is kept for exactly historyTtlMs', async () => {
    const { broker, clock } = setup(10, 10_000)
    const t0 = clock.now
    await broker.publish('b', '1')
    clock.now = t0 + 10_000
    assert.deepEqual(await kept(broker, 'b'), [1], 'still kept at exactly the TTL')
    clock.now = t0 + 10_001
    assert.deepEqual(await kept(broker, 'b'), [], 'gone one millisecond later')
  })
})

describe('MemoryBroker sweep', () => {
  test("sweep() drops the stores' expired values too", async () => {
    const { broker, clock } = setup(10, 60_000)
    const store = broker.store('s', 1_000)
    await store.set('a', 'x')
    await store.set('b', 'y')
    assert.equal(store.size, 2)
    clock.now += 1_000
    broker.sweep()
    assert.equal(store.size, 0)
  })

  test('the shared timer sweeps on its own: expired history is forgotten', async () => {
    const { broker, clock } = setup(10, 1_000)
    await broker.publish('old', '1')
    assert.equal(broker.streamCount, 1)
    clock.now += 2_000
    await until(() => broker.streamCount === 0, 'the sweep timer forgetting the expired stream', 5_000)
  })

  test("a store with a shorter TTL than history's is swept as often as it needs", async () => {
    // History alone would be swept once a minute (a quarter of an hour, at most a minute).
    const { broker, clock } = setup(10, 3_600_000)
    const store = broker.store('short', 1_000)
    assert.equal(broker.store('short', 1_000), store)
    await store.set('k', 'v')
    clock.now += 1_000
    await until(() => store.size === 0, 'the store swept by the timer', 5_000)
  })
})
