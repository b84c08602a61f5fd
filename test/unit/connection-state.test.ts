import assert from 'node:assert/strict'
import { afterEach, test } from 'node:test'
import { setImmediate as turn } from 'node:timers/promises'
import { Disconnects } from '../../src/disconnect.js'
import { publicIdentifier } from '../../src/protocol/identifier.js'
import { deferred, scriptedCore, type ScriptedCore } from '../support/scripted-core.js'
import { until as untilDeadline } from '../support/util.js'

// Everything here happens in this process within a few turns: a 2 s deadline is ample, and a
// mutant that breaks a wait fails it in 2 s rather than the suite's usual 10 (Stryker runs this
// file once per mutant it covers).
const until = <T>(check: () => T | Promise<T>, what: string) => untilDeadline(check, what, 2000)

// What a connection keeps and reports as its state changes, through FakeWires on a
// ScriptedBroker: held bytes against the budget to the byte, the state a restore brings back
// after an unsubscribe, what operators are told on a restore, and an unpositioned subscription
// after a broker reconnect.

const open: ScriptedCore[] = []
afterEach(async () => { for (const c of open.splice(0)) await c.close() })
const setup = (...args: Parameters<typeof scriptedCore>) => { const t = scriptedCore(...args); open.push(t); return t }
const id = (stream: string) => publicIdentifier(stream)

test('held live messages are charged payload + identifier + 64 bytes: exactly the budget is kept, one byte less of budget is too slow', async () => {
  const payload = 'x'.repeat(500)
  // The publication's data is its JSON text: the payload and two quotes.
  const charge = payload.length + 2 + id('s').length + 64
  for (const [outboxBytes, slow] of [[charge, false], [charge - 1, true]] as const) {
    const t = setup({ outboxBytes })
    const { wire, conn } = t.connect()
    await turn() // the welcome is written: nothing else is queued
    const gate = deferred()
    t.broker.subscribeWith = gate.promise
    const subscribing = conn.subscribe(id('s'))
    await t.hub.publish('s', payload) // held until the broker subscribed
    assert.equal(wire.closedWith, slow ? Disconnects.slow : undefined, `budget ${outboxBytes}`)
    gate.resolve()
    await subscribing
    if (!slow) await until(() => wire.messages().some((m) => m.stream_id === 's'), 'delivered')
  }
})

test('the state a restore brings back follows unsubscribes; operators are told how many channels came back', async () => {
  const t = setup()
  const { conn } = t.connect()
  await conn.subscribe(id('a'))
  await conn.subscribe(id('b'))
  await conn.subscribe(id('c'))
  await until(() => t.broker.storeOps.includes(`set ${conn.sid}`), 'kept')
  conn.unsubscribe(id('b'))
  await until(() => t.broker.storeOps.filter((op) => op === `set ${conn.sid}`).length === 2, 'kept again')
  // Restored elsewhere while it lives (its node was killed).
  const again = t.connect({}, `http://test/cable?sid=${conn.sid}`)
  await until(() => again.wire.messages().length > 0, 'welcome')
  assert.deepEqual(again.wire.messages()[0].restored_ids, [id('a'), id('c')])
  assert.deepEqual(again.conn.identifiers, [id('a'), id('c')])
  assert.deepEqual(t.seen.sessionRestore?.map((e) => [e.sid, e.from, e.channels]), [[again.conn.sid, conn.sid, 2]])
})

test('a base-protocol WebSocket is not restorable: nothing is kept for it while it lives or after it', async () => {
  const t = setup()
  const { conn } = t.connect({ extended: false })
  assert.equal(conn.restorable, false)
  await conn.subscribe(id('s'))
  await turn()
  await turn()
  conn.closed(Disconnects.normal)
  await turn()
  assert.deepEqual(t.broker.storeOps.filter((op) => op.endsWith(conn.sid)), [])
  assert.equal(t.connect().conn.restorable, true)
})

test('a subscription left without a position (its history read failed) is not told its epoch is gone by a broker reconnect', async () => {
  const t = setup({}, { snapshot: () => '{"snap":1}' })
  const { wire, conn } = t.connect()
  await t.hub.publish('s', 1)
  t.broker.historyWith = async () => { throw new Error('connection reset') }
  await conn.subscribe(id('s'))
  t.broker.historyWith = undefined
  t.brokerEvents.resubscribed!()
  await until(() => t.broker.queries.filter((q) => q.query.limit === 0).length >= 2, 'the top read after the reconnect')
  await turn()
  await t.hub.publish('s', 2)
  await until(() => wire.messages().some((m) => m.offset === 2), 'live')
  assert.deepEqual(wire.messages().map((m) => m.type ?? m.offset ?? 'snapshot'), ['welcome', 'confirm_subscription', 'snapshot', 2])
  assert.deepEqual(t.seen.historyReject?.map((e) => e.why), ['connection reset'])
})

test('disconnect: the reason goes out before the close; later pushes, commands and a second disconnect do nothing', async () => {
  const t = setup()
  const { wire, conn } = t.connect()
  await conn.subscribe(id('s'))
  await turn()
  conn.disconnect(Disconnects.shutdown)
  conn.disconnect(Disconnects.invalidCommand)
  conn.receive('{"command":"ping"}')
  conn.tooSlow()
  await t.hub.publish('s', 1)
  await turn()
  assert.equal(wire.closedWith, Disconnects.shutdown)
  assert.deepEqual(wire.messages().map((m) => m.type), ['welcome', 'confirm_subscription', 'disconnect'])
  assert.equal(wire.messages().at(-1).reason, 'server_restart')
  assert.equal(conn.isOpen, false)
  assert.equal(t.core.clients.size, 0)
  assert.deepEqual(t.seen.connectionClose?.map((e) => [e.sid, e.transport, e.reason.reason]), [[conn.sid, 'ws', 'server_restart']])
})
