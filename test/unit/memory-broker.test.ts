import assert from 'node:assert/strict'
import { afterEach, describe, test } from 'node:test'
import { HistoryUnavailable } from '../../src/broker/broker.js'
import { MemoryBroker } from '../../src/broker/memory-broker.js'
import type { StreamMessage } from '../../src/protocol/messages.js'
import { until } from '../support/util.js'

/** A broker with a hand-driven clock and a record of what its listener got. */
function setup(historyLimit = 100, historyTtlMs = 60_000) {
  const clock = { now: 1_000_000 }
  const delivered: StreamMessage[] = []
  const broker = new MemoryBroker((m) => delivered.push(m), { historyLimit, historyTtlMs, now: () => clock.now })
  brokers.push(broker)
  return { broker, clock, delivered }
}
const brokers: MemoryBroker[] = []
afterEach(async () => { for (const b of brokers.splice(0)) await b.close() })

const offsets = (list: StreamMessage[]) => list.map((m) => m.offset)
const isUnavailable = (pattern: RegExp) => (err: unknown) => err instanceof HistoryUnavailable && pattern.test(err.message)

describe('MemoryBroker', () => {
  test('offsets start at 1 and are dense per stream; each stream has its own epoch', async () => {
    const { broker } = setup()
    const a1 = await broker.publish('a', '1')
    const a2 = await broker.publish('a', '2')
    const b1 = await broker.publish('b', '1')
    assert.deepEqual([a1.offset, a2.offset, b1.offset], [1, 2, 1])
    assert.equal(a1.epoch, a2.epoch)
    assert.match(a1.epoch, /^[\w-]+$/)
    assert.deepEqual(await broker.position('a'), { offset: 2, epoch: a1.epoch })
    assert.equal(await broker.position('never'), undefined)
    assert.equal(a1.stream, 'a')
    assert.equal(a1.data, '1')
    assert.equal(a1.at, 1_000_000)
  })

  test('only subscribed streams reach the listener, in order', async () => {
    const { broker, delivered } = setup()
    await broker.publish('s', '"before"')
    broker.subscribe('s')
    await broker.publish('s', '"one"')
    await broker.publish('other', '"x"')
    await broker.publish('s', '"two"')
    broker.unsubscribe('s')
    await broker.publish('s', '"after"')
    assert.deepEqual(delivered.map((m) => m.data), ['"one"', '"two"'])
  })

  test('history after a position returns exactly the later messages', async () => {
    const { broker } = setup()
    let epoch = ''
    for (let i = 1; i <= 5; i++) epoch = (await broker.publish('s', String(i))).epoch
    assert.deepEqual(offsets(await broker.history('s', { position: { epoch, offset: 2 } })), [3, 4, 5])
    assert.deepEqual(offsets(await broker.history('s', { position: { epoch, offset: 0 } })), [1, 2, 3, 4, 5])
    assert.deepEqual(await broker.history('s', { position: { epoch, offset: 5 } }), [])
  })

  test('rejects a wrong epoch, an offset beyond the latest and an unknown stream', async () => {
    const { broker } = setup()
    const { epoch } = await broker.publish('s', '1')
    await assert.rejects(broker.history('s', { position: { epoch: 'zzzz', offset: 0 } }), isUnavailable(/epoch/))
    await assert.rejects(broker.history('s', { position: { epoch, offset: 2 } }), isUnavailable(/beyond/))
    await assert.rejects(broker.history('nope', { position: { epoch, offset: 0 } }), isUnavailable(/no history/))
  })

  test('keeps at most historyLimit messages; older positions are rejected', async () => {
    const { broker } = setup(3)
    let epoch = ''
    for (let i = 1; i <= 10; i++) epoch = (await broker.publish('s', String(i))).epoch
    assert.deepEqual(offsets(await broker.history('s', { position: { epoch, offset: 7 } })), [8, 9, 10])
    assert.deepEqual(offsets(await broker.history('s', { position: { epoch, offset: 8 } })), [9, 10])
    await assert.rejects(broker.history('s', { position: { epoch, offset: 6 } }), isUnavailable(/no longer kept/))
    await assert.rejects(broker.history('s', { position: { epoch, offset: 0 } }), isUnavailable(/no longer kept/))
    assert.deepEqual(offsets(await broker.history('s', { sinceMs: 0 })), [8, 9, 10])
    assert.deepEqual(await broker.position('s'), { offset: 10, epoch })
  })

  test('historyLimit 0 keeps nothing but still numbers messages', async () => {
    const { broker } = setup(0)
    await broker.publish('s', '1')
    const m = await broker.publish('s', '2')
    assert.equal(m.offset, 2)
    assert.deepEqual(await broker.history('s', { position: { epoch: m.epoch, offset: 2 } }), [])
    await assert.rejects(broker.history('s', { position: { epoch: m.epoch, offset: 1 } }), isUnavailable(/no longer kept/))
    assert.deepEqual(await broker.history('s', { sinceMs: 0 }), [])
  })

  test('messages older than the TTL are trimmed (injected clock)', async () => {
    const { broker, clock } = setup(100, 10_000)
    const first = await broker.publish('s', '1') // t=0
    clock.now += 6_000
    await broker.publish('s', '2') // t=6s
    clock.now += 6_000 // t=12s: the first is older than 10 s
    const { epoch } = first
    assert.deepEqual(offsets(await broker.history('s', { position: { epoch, offset: 1 } })), [2])
    await assert.rejects(broker.history('s', { position: { epoch, offset: 0 } }), isUnavailable(/no longer kept/))
    clock.now += 5_000 // t=17s: both gone, position still known
    assert.deepEqual(await broker.history('s', { position: { epoch, offset: 2 } }), [])
    await assert.rejects(broker.history('s', { position: { epoch, offset: 1 } }), isUnavailable(/no longer kept/))
    assert.deepEqual(await broker.history('s', { sinceMs: 0 }), [])
    const next = await broker.publish('s', '3')
    assert.deepEqual([next.offset, next.epoch], [3, epoch], 'the epoch survives while the stream is known')
  })

  test('since-time queries return kept messages at or after the time', async () => {
    const { broker, clock } = setup()
    const t0 = clock.now
    await broker.publish('s', '1')
    clock.now = t0 + 1000
    await broker.publish('s', '2')
    await broker.publish('s', '3')
    clock.now = t0 + 2000
    await broker.publish('s', '4')
    assert.deepEqual(offsets(await broker.history('s', { sinceMs: t0 + 1000 })), [2, 3, 4])
    assert.deepEqual(offsets(await broker.history('s', { sinceMs: t0 + 1001 })), [4])
    assert.deepEqual(offsets(await broker.history('s', { sinceMs: t0 - 1 })), [1, 2, 3, 4])
    assert.deepEqual(await broker.history('s', { sinceMs: t0 + 5000 }), [])
    assert.deepEqual(await broker.history('unknown', { sinceMs: 0 }), [], 'an unknown stream has nothing since any time')
  })

  test('a stream evicted after its history expired comes back with a new epoch; old positions are rejected', async () => {
    const { broker, clock } = setup(100, 1000)
    const old = await broker.publish('gone', '1')
    broker.subscribe('kept')
    const kept = await broker.publish('kept', '1')
    clock.now += 5000
    // The shared sweep timer (every second at this TTL) evicts it; no private call to hurry it.
    await until(async () => (await broker.position('gone')) === undefined, 'the sweep to evict the expired stream', 5000)
    assert.equal(broker.streamCount, 1, 'a stream with local subscribers keeps its epoch')
    assert.deepEqual(await broker.position('kept'), { offset: 1, epoch: kept.epoch })
    const fresh = await broker.publish('gone', '2')
    assert.equal(fresh.offset, 1)
    assert.notEqual(fresh.epoch, old.epoch)
    await assert.rejects(broker.history('gone', { position: { epoch: old.epoch, offset: 1 } }), isUnavailable(/epoch/))
  })

  test('two brokers (two process lives) have different epochs', async () => {
    const a = setup().broker
    const b = setup().broker
    assert.notEqual((await a.publish('s', '1')).epoch, (await b.publish('s', '1')).epoch)
  })
  test('history stays exact while a short stream expires and refills, up to its limit and past it', async () => {
    const { broker, clock } = setup(4, 10_000)
    let epoch = ''
    for (let i = 1; i <= 3; i++) epoch = (await broker.publish('s', String(i))).epoch
    clock.now += 11_000 // all three expire
    assert.deepEqual(await broker.history('s', { sinceMs: 0 }), [])
    for (let i = 4; i <= 5; i++) await broker.publish('s', String(i))
    clock.now += 5_000
    for (let i = 6; i <= 9; i++) await broker.publish('s', String(i))
    assert.deepEqual(offsets(await broker.history('s', { position: { epoch, offset: 5 } })), [6, 7, 8, 9])
    clock.now += 6_000 // 4 and 5 would have expired anyway; the limit already dropped them
    assert.deepEqual(offsets(await broker.history('s', { sinceMs: 0 })), [6, 7, 8, 9])
    await broker.publish('s', '10')
    assert.deepEqual(offsets(await broker.history('s', { position: { epoch, offset: 6 } })), [7, 8, 9, 10])
    const [m] = await broker.history('s', { position: { epoch, offset: 9 } })
    assert.equal(m.stream, 's')
    assert.equal(m.data, '10')
  })

  test('epochs of many new streams are distinct', async () => {
    const { broker } = setup()
    const epochs = new Set<string>()
    for (let i = 0; i < 600; i++) epochs.add((await broker.publish(`s${i}`, '1')).epoch)
    assert.ok(epochs.size > 590, `${epochs.size} distinct of 600`)
    for (const e of epochs) assert.match(e, /^[\w-]{4}$/)
  })
})
