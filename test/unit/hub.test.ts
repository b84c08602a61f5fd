import assert from 'node:assert/strict'
import { afterEach, test } from 'node:test'
import type { BrokerEvents } from '../../src/broker/broker.js'
import { MemoryBroker } from '../../src/broker/memory-broker.js'
import type { PreparedBroadcast } from '../../src/framing/prepared-broadcast.js'
import { Hub } from '../../src/hub/hub.js'
import type { Subscriber } from '../../src/hub/subscriber.js'
import { Diagnostics } from '../../src/observability/diagnostics.js'
import type { StreamPosition } from '../../src/protocol/messages.js'
import { textFraming } from '../support/fake-wire.js'

/** A memory broker that counts the hub's calls and can refuse a subscribe, as a network broker might. */
class CountingBroker extends MemoryBroker {
  subscribes: string[] = []
  unsubscribes: string[] = []
  failNext: Error | undefined
  override subscribe(stream: string): undefined {
    this.subscribes.push(stream)
    return super.subscribe(stream)
  }
  subscribeLater(stream: string): Promise<void> {
    this.subscribes.push(stream)
    const fail = this.failNext
    this.failNext = undefined
    return fail ? Promise.reject(fail) : Promise.resolve(super.subscribe(stream))
  }
  override unsubscribe(stream: string): void {
    this.unsubscribes.push(stream)
    super.unsubscribe(stream)
  }
}

class Recorder implements Subscriber {
  dataHead: string | undefined = undefined
  readonly got: PreparedBroadcast[] = []
  readonly tops: StreamPosition[] = []
  readonly failures: unknown[] = []
  throws = false
  constructor(readonly stream: string, readonly identifier: string) {}
  deliver(prepared: PreparedBroadcast): void {
    if (this.throws) throw new Error('this subscriber is broken')
    this.got.push(prepared)
  }
  fail(err: unknown): void {
    this.failures.push(err)
  }
  checkTop(top: StreamPosition): void {
    this.tops.push(top)
  }
}

const brokers: MemoryBroker[] = []
afterEach(async () => { for (const b of brokers.splice(0)) await b.close() })

function setup(asynchronous = false) {
  let broker!: CountingBroker
  let events!: BrokerEvents
  const hub = new Hub((e) => {
    events = e
    broker = new CountingBroker(e, { historyLimit: 10, historyTtlMs: 60_000 })
    if (asynchronous) broker.subscribe = broker.subscribeLater as any
    brokers.push(broker)
    return broker
  }, new Diagnostics())
  return { hub, broker, events }
}

test('fan-out: one encoding per identifier, the same bytes for every subscriber of it', async () => {
  const { hub } = setup()
  const a1 = new Recorder('s', 'A')
  const a2 = new Recorder('s', 'A')
  const b = new Recorder('s', 'B')
  for (const r of [a1, a2, b]) assert.equal(hub.subscribe(r), undefined, 'the memory broker is live at once')
  await hub.publish('s', { n: 1 })
  assert.equal(a1.got[0], a2.got[0], 'one PreparedBroadcast per identifier')
  assert.notEqual(a1.got[0], b.got[0])
  assert.equal(a1.got[0].bytes(textFraming), a2.got[0].bytes(textFraming), 'encoded once, shared')
  assert.equal(JSON.parse(b.got[0].json()).identifier, 'B')
  assert.equal(hub.counters.deliveries, 3)
  assert.equal(hub.counters.published, 1)
})

test('the broker subscribes a stream once, while it has local subscribers', async () => {
  const { hub, broker } = setup()
  const r1 = new Recorder('s', 'A')
  const r2 = new Recorder('s', 'A')
  hub.subscribe(r1)
  hub.subscribe(r2)
  assert.deepEqual(broker.subscribes, ['s'])
  hub.unsubscribe(r1)
  assert.deepEqual(broker.unsubscribes, [])
  hub.unsubscribe(r2)
  hub.unsubscribe(r2) // twice is harmless
  assert.deepEqual(broker.unsubscribes, ['s'])
  assert.equal(hub.subscriberCount('s'), 0)
  assert.equal(hub.counters.subscriptions, 0)
  await hub.publish('s', 1)
  assert.equal(r1.got.length + r2.got.length, 0)
})

test('a broker subscribe that fails rejects every waiting subscriber and leaves nothing behind; the next one asks again', async () => {
  const { hub, broker } = setup(true)
  broker.failNext = new Error('broker down')
  const first = hub.subscribe(new Recorder('s', 'A'))
  const second = hub.subscribe(new Recorder('s', 'A'))
  assert.ok(first instanceof Promise)
  assert.equal(second, first, 'one round trip per stream')
  await assert.rejects(first!, /broker down/)
  assert.equal(hub.subscriberCount('s'), 0)
  assert.equal(hub.counters.subscriptions, 0)
  const retry = new Recorder('s', 'A')
  await hub.subscribe(retry)
  assert.deepEqual(broker.subscribes, ['s', 's'])
  await hub.publish('s', 1)
  assert.equal(retry.got.length, 1)
})

test('after the broker reconnects, every subscriber hears where its stream stands', async () => {
  const { hub, events } = setup()
  const r = new Recorder('s', 'A')
  hub.subscribe(r)
  const m = await hub.publish('s', 1)
  events.resubscribed!()
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(r.tops, [{ offset: 1, epoch: m.epoch }])
  assert.equal(hub.counters.brokerReconnects, 1)
})

test('a subscriber that throws is told so, and the others still get the message', async () => {
  const { hub } = setup()
  const [a, broken, c] = [new Recorder('s', 'A'), new Recorder('s', 'A'), new Recorder('s', 'A')]
  broken.throws = true
  for (const r of [a, broken, c]) hub.subscribe(r)
  await hub.publish('s', 1)
  assert.deepEqual([a.got.length, broken.got.length, c.got.length], [1, 0, 1])
  assert.match(String(broken.failures[0]), /broken/)
})
