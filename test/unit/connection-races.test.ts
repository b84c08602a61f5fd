import assert from 'node:assert/strict'
import { afterEach, test } from 'node:test'
import { setImmediate as turn } from 'node:timers/promises'
import { Disconnects } from '../../src/disconnect.js'
import { publicIdentifier } from '../../src/protocol/identifier.js'
import { FakeWire } from '../support/fake-wire.js'
import { deferred, scriptedCore, type ScriptedCore } from '../support/scripted-core.js'
import { until as untilDeadline } from '../support/util.js'

// In-process waits of a few turns: a 2 s deadline is ample (see connection-catchup.test.ts).
const until = <T>(check: () => T | Promise<T>, what: string) => untilDeadline(check, what, 2000)

// Races between a catch-up and the client or the broker, through FakeWires on a ScriptedBroker:
// a channel left while its history is read, and a session resumed while the broker is still
// subscribing its streams (no live message until then, as with Redis or NATS).

const open: ScriptedCore[] = []
afterEach(async () => { for (const c of open.splice(0)) await c.close() })
const setup = (...args: Parameters<typeof scriptedCore>) => { const t = scriptedCore(...args); open.push(t); return t }
const id = (stream: string) => publicIdentifier(stream)
const types = (messages: any[]) => messages.map((m) => m.type ?? (m.stream_id ? `data:${m.offset}` : 'snapshot'))

test('a channel left while its history is read gets nothing more: no confirmation, backlog, refusal or snapshot', async () => {
  for (const outcome of ['read', 'failed'] as const) {
    const t = setup({}, { snapshot: () => '{"snap":1}' })
    const m1 = await t.hub.publish('s', 1)
    const { wire, conn } = t.connect()
    await turn()
    const reading = deferred<undefined>()
    t.broker.historyWith = () => reading.promise
    const subscribing = conn.subscribe(id('s'), { streams: { s: { epoch: m1.epoch, offset: 0 } } })
    await turn()
    conn.unsubscribe(id('s'))
    if (outcome === 'read') reading.resolve(undefined)
    else reading.reject(new Error('connection reset'))
    await subscribing
    await turn()
    assert.deepEqual(types(wire.messages()), ['welcome'], outcome)
    assert.equal(t.seen.historyReject, undefined, outcome)
  }
})

test('a connection closed while its history is read sends and reports nothing more', async () => {
  const t = setup({}, { snapshot: () => '{"snap":1}' })
  const { wire, conn } = t.connect()
  await turn()
  const reading = deferred<undefined>()
  t.broker.historyWith = () => reading.promise
  const subscribing = conn.subscribe(id('s'))
  await turn()
  conn.closed(Disconnects.normal)
  reading.reject(new Error('connection reset'))
  await subscribing
  await turn()
  assert.deepEqual(types(wire.messages()), ['welcome'])
  assert.equal(t.seen.historyReject, undefined)
})

test('a session resumed while the broker still subscribes its stream reads history once the stream is live: a message published meanwhile is not lost', async () => {
  const t = setup()
  t.broker.liveOnlyWhenReady = true
  const m1 = await t.hub.publish('s', 1)
  const gate = deferred()
  t.broker.subscribeWith = gate.promise
  const wire = new FakeWire()
  const conn = t.core.adopt(wire, t.request('http://test/poll'), 'moved-sid', [{ identifier: id('s'), streams: [{ stream: 's', epoch: m1.epoch, offset: 1 }] }])
  await turn()
  await t.hub.publish('s', 2) // not delivered live: the broker is not subscribed yet
  gate.resolve()
  await until(() => wire.messages().some((m) => m.offset === 2), 'the message published meanwhile, from history')
  assert.deepEqual(types(wire.messages()), ['data:2'])
  assert.equal(conn.sid, 'moved-sid')
})

test('whenSettled runs once nothing is being set up or caught up any more, not before', async () => {
  const t = setup()
  const gate = deferred()
  t.broker.subscribeWith = gate.promise
  const { conn } = t.connect()
  const seen: boolean[] = []
  const a = conn.subscribe(id('a'))
  const b = conn.subscribe(id('b'))
  conn.whenSettled(() => seen.push(conn.settling))
  gate.resolve()
  await Promise.all([a, b])
  await turn()
  assert.deepEqual(seen, [false], 'called once, when settled')
})
