import assert from 'node:assert/strict'
import { afterEach, test } from 'node:test'
import { setImmediate as turn } from 'node:timers/promises'
import { Disconnects } from '../../src/disconnect.js'
import { publicIdentifier } from '../../src/protocol/identifier.js'
import { deferred, scriptedCore, type ScriptedCore } from '../support/scripted-core.js'
import { until as untilDeadline } from '../support/util.js'

// Everything here happens in this process within a few turns: a 2 s deadline is ample, and a
// mutant that breaks a wait fails it in 2 s rather than the suite's usual 10.
const until = <T>(check: () => T | Promise<T>, what: string) => untilDeadline(check, what, 2000)

// More of a connection's catch-up and budget, through FakeWires on a ScriptedBroker: what the
// session still buffers counts with what is held, and a broker reconnect during a catch-up
// leaves it to the catch-up (no gap reported, no second read).

const open: ScriptedCore[] = []
afterEach(async () => { for (const c of open.splice(0)) await c.close() })
const setup = (...args: Parameters<typeof scriptedCore>) => { const t = scriptedCore(...args); open.push(t); return t }
const id = (stream: string) => publicIdentifier(stream)

test('held messages and the bytes the session still buffers share one budget', async () => {
  const payload = 'x'.repeat(500)
  const charge = payload.length + 2 + id('s').length + 64
  for (const [buffered, slow] of [[100, false], [101, true]] as const) {
    const t = setup({ outboxBytes: charge + 100 })
    const { wire, conn } = t.connect()
    await turn() // the welcome is written
    wire.bufferedBytes = buffered // not yet in the kernel
    const gate = deferred()
    t.broker.subscribeWith = gate.promise
    const subscribing = conn.subscribe(id('s'))
    await t.hub.publish('s', payload) // held until the broker subscribed
    assert.equal(wire.closedWith, slow ? Disconnects.slow : undefined, `${buffered} bytes buffered`)
    gate.resolve()
    await subscribing
  }
})

test('a broker reconnect while a history request is being served leaves it to that catch-up: no gap reported, nothing twice', async () => {
  const t = setup()
  const { wire, conn } = t.connect()
  await conn.subscribe(id('s'))
  const m1 = await t.hub.publish('s', 1)
  await until(() => wire.messages().some((m) => m.offset === 1), 'first message')
  const reading = deferred<undefined>()
  t.broker.historyWith = (_stream, query) => (query.after ? reading.promise : Promise.resolve(undefined))
  conn.receive(JSON.stringify({ command: 'history', identifier: id('s'), history: { streams: { s: { epoch: m1.epoch, offset: 0 } } } }))
  await t.hub.publish('s', 2) // held while the backlog is read
  t.brokerEvents.resubscribed!() // the top (2) is past what was delivered (1)
  await until(() => t.broker.queries.filter((q) => q.query.limit === 0).length >= 2, 'the top read after the reconnect')
  await turn()
  reading.resolve(undefined)
  await until(() => wire.messages().some((m) => m.type === 'confirm_history'), 'confirmed')
  await turn()
  assert.deepEqual(wire.messages().slice(2).map((m) => m.type ?? m.offset), [1, 2, 'confirm_history'])
  assert.equal(t.seen.historyGap, undefined)
  assert.equal(t.hub.counters.gapsRecovered, 0)
  assert.equal(t.broker.queries.filter((q) => q.query.after).length, 1, 'one history read: the request\'s')
})

test('after the kernel refuses a write, nothing more goes out until the transport says drained; then the backlog, in order', async () => {
  const t = setup()
  const { wire, conn } = t.connect()
  await conn.subscribe(id('s'))
  await turn()
  wire.accept = false // the next write fills the kernel
  await t.hub.publish('s', 1)
  await turn()
  await t.hub.publish('s', 2)
  await t.hub.publish('s', 3)
  await turn()
  await turn()
  assert.deepEqual(wire.messages().filter((m) => m.stream_id).map((m) => m.offset), [1], 'blocked after 1')
  wire.accept = true
  conn.drained()
  await until(() => wire.messages().filter((m) => m.stream_id).length === 3, 'the backlog')
  assert.deepEqual(wire.messages().filter((m) => m.stream_id).map((m) => m.offset), [1, 2, 3])
})

test('a history command with nothing to replay does not move a live subscription past a message it has not had yet', async () => {
  const t = setup()
  const { wire, conn } = t.connect()
  await conn.subscribe(id('s'))
  await t.hub.publish('s', 1)
  t.broker.drop.add(2)
  await t.hub.publish('s', 2) // lost on the way: the gap shows with the next message
  conn.receive(JSON.stringify({ command: 'history', identifier: id('s'), history: {} }))
  conn.receive(JSON.stringify({ command: 'history', identifier: id('unknown'), history: {} }))
  await turn()
  await t.hub.publish('s', 3)
  await until(() => wire.messages().filter((m) => m.stream_id).length === 3, 'recovered')
  assert.deepEqual(wire.messages().filter((m) => m.stream_id).map((m) => m.offset), [1, 2, 3])
  assert.equal(conn.isOpen, true, 'a history command for a channel not held is ignored')
})
