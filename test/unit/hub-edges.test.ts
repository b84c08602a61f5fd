import assert from 'node:assert/strict'
import dc from 'node:diagnostics_channel'
import { afterEach, test } from 'node:test'
import type { BrokerEvents, History, HistoryQuery } from '../../src/broker/broker.js'
import { MemoryBroker } from '../../src/broker/memory-broker.js'
import type { PreparedBroadcast } from '../../src/framing/prepared-broadcast.js'
import { Hub } from '../../src/hub/hub.js'
import type { Subscriber } from '../../src/hub/subscriber.js'
import { Diagnostics } from '../../src/observability/diagnostics.js'
import { replies, type StreamPosition } from '../../src/protocol/messages.js'
import { until } from '../support/util.js'

// The hub's edges that hub.test.ts leaves open: control messages between nodes, broker state and
// errors as operators see them (diagnostics channels), batch counts, mixed identifiers, and a
// broker subscribe that fails after its stream was taken up again.

class Recorder implements Subscriber {
  dataHead: string | undefined = undefined
  readonly got: PreparedBroadcast[] = []
  readonly tops: StreamPosition[] = []
  constructor(readonly stream: string, readonly identifier: string) {}
  deliver(prepared: PreparedBroadcast): void { this.got.push(prepared) }
  fail(_err: unknown): void {}
  checkTop(top: StreamPosition): void { this.tops.push(top) }
}

/** A memory broker whose subscribes are round trips that can fail, and whose history can fail. */
class FlakyBroker extends MemoryBroker {
  failSubscribe: Error | undefined
  failHistory: Error | undefined
  subscribeLater(stream: string): Promise<void> {
    const fail = this.failSubscribe
    this.failSubscribe = undefined
    return fail ? Promise.reject(fail) : Promise.resolve(super.subscribe(stream))
  }
  override history(stream: string, query?: HistoryQuery): Promise<History> {
    return this.failHistory ? Promise.reject(this.failHistory) : super.history(stream, query)
  }
}

const brokers: MemoryBroker[] = []
const unsubscribes: (() => void)[] = []
afterEach(async () => {
  for (const u of unsubscribes.splice(0)) u()
  for (const b of brokers.splice(0)) await b.close()
})

function setup() {
  let broker!: FlakyBroker
  let events!: BrokerEvents
  const diagnostics = new Diagnostics()
  const hub = new Hub((e) => {
    events = e
    broker = new FlakyBroker(e, { historyLimit: 10, historyTtlMs: 60_000 })
    broker.subscribe = broker.subscribeLater as any
    brokers.push(broker)
    return broker
  }, diagnostics)
  return { hub, broker, events, diagnostics }
}

/** What this node published on a diagnostics channel while the test runs. */
function observe<T extends { node: Diagnostics }>(name: string, node: Diagnostics): T[] {
  const seen: T[] = []
  const listener = (message: unknown) => { if ((message as T).node === node) seen.push(message as T) }
  dc.subscribe(name, listener)
  unsubscribes.push(() => dc.unsubscribe(name, listener))
  return seen
}

test('control messages reach every handler of their topic, in order; one that throws is reported and does not stop the next', async () => {
  const { hub, diagnostics } = setup()
  const failures = observe<{ node: Diagnostics; where: string; err: unknown }>('herald:request:fail', diagnostics)
  const got: string[] = []
  hub.onNotified('cancel', (p) => got.push(`first ${p}`))
  hub.onNotified('cancel', () => { throw new Error('handler broke') })
  hub.onNotified('cancel', (p) => got.push(`third ${p}`))
  hub.onNotified('other', (p) => got.push(`other ${p}`))
  await hub.notify('cancel', 'job-1')
  await until(() => got.length >= 2, 'both good handlers ran')
  assert.deepEqual(got, ['first job-1', 'third job-1'])
  assert.equal(failures.length, 1)
  assert.equal(failures[0].where, 'control message on cancel')
  assert.match(String(failures[0].err), /handler broke/)
  await hub.notify('nobody-listens', 'x')
  await hub.notify('cancel', 'job-2')
  await until(() => got.length >= 4, 'the second round ran')
  assert.deepEqual(got.slice(2), ['first job-2', 'third job-2'])
  assert.equal(failures.length, 2, 'a topic without handlers runs nothing and fails nothing')
})

test('a broker state change is published for operators with the broker\'s kind', () => {
  const { events, diagnostics } = setup()
  const states = observe<{ node: Diagnostics; kind: string; state: string; detail?: string }>('herald:broker:state', diagnostics)
  events.stateChanged!('down', 'connection reset')
  assert.deepEqual(states.map(({ kind, state, detail }) => ({ kind, state, detail })), [{ kind: 'memory', state: 'down', detail: 'connection reset' }])
})

test('after a broker reconnect, a subscriber whose check throws is failed alone; the others still hear the top', async () => {
  const { hub, events } = setup()
  const broken = new Recorder('s', 'A')
  const failed: unknown[] = []
  broken.checkTop = () => { throw new Error('check broke') }
  broken.fail = (err) => { failed.push(err) }
  const fine = new Recorder('s', 'A')
  await hub.subscribe(broken)
  await hub.subscribe(fine)
  await hub.publish('s', 1)
  events.resubscribed!()
  await until(() => fine.tops.length > 0, 'the top reached the working subscriber')
  assert.equal(fine.tops[0].offset, 1)
  assert.match(String(failed[0]), /check broke/)
})

test('after a broker reconnect every reconnect handler runs, in order; one that throws is reported and does not stop the next', () => {
  const { hub, events, diagnostics } = setup()
  const failures = observe<{ node: Diagnostics; where: string; err: unknown }>('herald:request:fail', diagnostics)
  const ran: string[] = []
  hub.onResubscribed(() => ran.push('first'))
  hub.onResubscribed(() => { throw new Error('reconnect handler broke') })
  hub.onResubscribed(() => ran.push('third'))
  events.resubscribed!()
  assert.deepEqual(ran, ['first', 'third'])
  assert.equal(failures.length, 1)
  assert.equal(failures[0].where, 'broker reconnect handler')
  assert.match(String(failures[0].err), /reconnect handler broke/)
  assert.equal(hub.counters.brokerReconnects, 1)
})

test('a batch counts every publication in it', async () => {
  const { hub } = setup()
  await hub.publishBatch([{ stream: 'a', data: 1 }, { stream: 'b', data: 2 }, { stream: 'a', data: 3 }])
  assert.equal(hub.counters.published, 3)
})

test('with identifiers mixed on one stream, each identifier is still encoded once (A, B, A share A\'s)', async () => {
  const { hub } = setup()
  const a1 = new Recorder('s', 'A')
  const b = new Recorder('s', 'B')
  const a2 = new Recorder('s', 'A')
  for (const r of [a1, b, a2]) await hub.subscribe(r)
  await hub.publish('s', { n: 1 })
  assert.equal(a1.got[0], a2.got[0], 'one PreparedBroadcast for A')
  assert.notEqual(a1.got[0], b.got[0])
  assert.equal(JSON.parse(a2.got[0].json()).identifier, 'A')
})

test('a subscriber keeps the data head its first broadcast made, as the Subscriber contract says', async () => {
  const { hub } = setup()
  const r = new Recorder('s', 'A')
  await hub.subscribe(r)
  await hub.publish('s', 1)
  assert.equal(r.dataHead, replies.dataHead('A'))
})

test('a late broker message for a stream nobody here subscribes any more is dropped quietly', () => {
  const { events } = setup()
  assert.doesNotThrow(() => events.message({ stream: 'gone', data: '1', offset: 1, epoch: 'e', at: 0 }))
})

test('a failed broker subscribe that lands after its stream was taken up again leaves the new subscriber subscribed', async () => {
  const { hub, broker, diagnostics } = setup()
  const errors = observe<{ node: Diagnostics; op: string; err: unknown }>('herald:broker:error', diagnostics)
  broker.failSubscribe = new Error('broker down')
  const early = new Recorder('s', 'A')
  const failed = hub.subscribe(early)
  hub.unsubscribe(early)
  const late = new Recorder('s', 'A')
  const ready = hub.subscribe(late)
  await assert.rejects(failed!, /broker down/)
  await ready
  assert.equal(hub.subscriberCount('s'), 1)
  await hub.publish('s', { n: 1 })
  assert.equal(late.got.length, 1, 'the new subscriber still gets the stream')
  assert.deepEqual(errors.map((e) => e.op), ['subscribe'])
})

test('after a broker reconnect, a history query that fails is reported and the subscribers keep going', async () => {
  const { hub, broker, events, diagnostics } = setup()
  const errors = observe<{ node: Diagnostics; op: string; err: unknown }>('herald:broker:error', diagnostics)
  const r = new Recorder('s', 'A')
  await hub.subscribe(r)
  broker.failHistory = new Error('history down')
  events.resubscribed!()
  await until(() => errors.length > 0, 'the failure reported')
  assert.equal(errors[0].op, 'history after reconnect')
  assert.deepEqual(r.tops, [])
  broker.failHistory = undefined
  await hub.publish('s', 1)
  assert.equal(r.got.length, 1)
})
