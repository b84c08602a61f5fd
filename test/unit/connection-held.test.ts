import assert from 'node:assert/strict'
import { afterEach, test } from 'node:test'
import { setImmediate as turn } from 'node:timers/promises'
import { Disconnects } from '../../src/disconnect.js'
import { publicIdentifier } from '../../src/protocol/identifier.js'
import { deferred, scriptedCore, type ScriptedCore } from '../support/scripted-core.js'
import { until as untilDeadline } from '../support/util.js'

// In-process waits of a few turns: a 2 s deadline is ample (see connection-catchup.test.ts).
const until = <T>(check: () => T | Promise<T>, what: string) => untilDeadline(check, what, 2000)

// The bytes of held live messages as the budget counts them, through FakeWires on a
// ScriptedBroker: given back when released, charged for the message that showed a gap; and what
// operators are told of a recovery after a broker reconnect.

const open: ScriptedCore[] = []
afterEach(async () => { for (const c of open.splice(0)) await c.close() })
const setup = (...args: Parameters<typeof scriptedCore>) => { const t = scriptedCore(...args); open.push(t); return t }
const id = (stream: string) => publicIdentifier(stream)
const payload = 'x'.repeat(500)
const charge = (stream: string) => payload.length + 2 + id(stream).length + 64

test('held messages give their bytes back when released', async () => {
  // Room for one held message at a time: three holds in a row fit only if each gives its bytes back.
  const t = setup({ outboxBytes: charge('a') + 10 })
  const { wire, conn } = t.connect()
  await turn()
  for (const stream of ['a', 'b', 'c']) {
    const gate = deferred()
    t.broker.subscribeWith = gate.promise
    const subscribing = conn.subscribe(id(stream))
    await t.hub.publish(stream, payload) // held until the broker subscribed
    gate.resolve()
    await subscribing
    await until(() => wire.messages().some((m) => m.stream_id === stream), `${stream} released`)
    await turn() // written: the outbox is empty again
  }
  assert.equal(wire.closedWith, undefined)
})

test('the message that showed a gap is held, and charged, while the gap is read', async () => {
  for (const [outboxBytes, slow] of [[2 * charge('s'), false], [2 * charge('s') - 1, true]] as const) {
    const t = setup({ outboxBytes })
    const { wire, conn } = t.connect()
    await conn.subscribe(id('s'))
    await t.hub.publish('s', 'first')
    await until(() => wire.messages().some((m) => m.offset === 1), 'first')
    await turn()
    const reading = deferred<undefined>()
    t.broker.historyWith = (_stream, query) => (query.after ? reading.promise : Promise.resolve(undefined))
    t.broker.drop.add(2)
    await t.hub.publish('s', payload)
    await t.hub.publish('s', payload) // shows the gap: held
    await t.hub.publish('s', payload) // held too
    assert.equal(wire.closedWith, slow ? Disconnects.slow : undefined, `budget ${outboxBytes}`)
    reading.resolve(undefined)
    if (!slow) await until(() => wire.messages().some((m) => m.offset === 4), 'recovered')
  }
})

test('a recovery after a broker reconnect is reported with the position it starts from and no message that showed it (-1)', async () => {
  const t = setup()
  const { wire, conn } = t.connect()
  await conn.subscribe(id('s'))
  await t.hub.publish('s', 1)
  t.broker.drop.add(2)
  await t.hub.publish('s', 2)
  t.brokerEvents.resubscribed!()
  await until(() => wire.messages().some((m) => m.offset === 2), 'recovered')
  assert.deepEqual(t.seen.historyGap?.map((e) => [e.sid, e.stream, e.after, e.got]), [[conn.sid, 's', 1, -1]])
})

test('a stream\'s last message recovered from a gap completes the connection; other recovered messages do not', async () => {
  const t = setup()
  const { wire, conn } = t.connect({ restorable: false })
  await conn.subscribe(id('s'), undefined, { endsWith: (m) => m.data === '"bye"' })
  await t.hub.publish('s', 'hi')
  t.broker.drop.add(2)
  await t.hub.publish('s', 'lost')
  await t.hub.publish('s', 'shows the gap')
  await until(() => wire.messages().some((m) => m.offset === 3), 'recovered')
  await turn()
  assert.equal(conn.isOpen, true, 'not the last message yet')
  t.broker.drop.add(5)
  await t.hub.publish('s', 'more')
  await t.hub.publish('s', 'bye') // lost on the way
  await t.hub.publish('s', 'after the end') // shows the gap
  await until(() => wire.closedWith, 'completed')
  assert.equal(wire.closedWith, Disconnects.complete)
  const data = wire.messages().filter((m) => m.stream_id).map((m) => m.message)
  assert.deepEqual(data.slice(0, 5), ['hi', 'lost', 'shows the gap', 'more', 'bye'])
})

test('a gap that cannot be filled, with nothing held or with the channel left during the snapshot, ends nothing', async () => {
  // After a broker reconnect: nothing showed the gap, so nothing is held.
  const a = setup({}, { snapshot: () => '{"snap":1}' })
  const one = a.connect()
  await one.conn.subscribe(id('s'))
  await a.hub.publish('s', 1)
  a.broker.drop.add(2)
  await a.hub.publish('s', 2)
  a.broker.historyWith = async (_stream, query) => { if (query.after) throw new Error('down'); return undefined }
  a.brokerEvents.resubscribed!()
  await until(() => one.wire.messages().filter((m) => m.message?.snap === 1).length === 2, 'the snapshot after the refusal')
  await turn()
  assert.equal(one.conn.isOpen, true)
  assert.equal(a.seen.requestFail, undefined)
  // The channel is left while the snapshot is made.
  let release!: () => void
  const hook = new Promise<void>((resolve) => { release = resolve })
  let calls = 0
  const b = setup({}, { snapshot: async () => { if (++calls > 1) await hook; return '{"snap":1}' } })
  const two = b.connect()
  await two.conn.subscribe(id('s'))
  await b.hub.publish('s', 1)
  b.broker.drop.add(2)
  b.broker.historyWith = async (_stream, query) => { if (query.after) throw new Error('down'); return undefined }
  await b.hub.publish('s', 2)
  await b.hub.publish('s', 3) // shows the gap
  await until(() => calls === 2, 'the snapshot asked for')
  two.conn.unsubscribe(id('s'))
  release()
  await turn()
  await turn()
  assert.equal(two.conn.isOpen, true)
  assert.equal(b.seen.requestFail, undefined)
})

test('a connection with several ending streams completes when the last of them has ended', async () => {
  const t = setup()
  const { wire, conn } = t.connect({ restorable: false })
  const ends = (m: { data: string }) => m.data === '"bye"'
  await conn.subscribe(id('a'), undefined, { endsWith: ends })
  await conn.subscribe(id('b'), undefined, { endsWith: ends })
  await t.hub.publish('a', 'bye')
  await until(() => wire.messages().some((m) => m.stream_id === 'a'), 'a ended')
  await turn()
  assert.equal(conn.isOpen, true, 'b goes on')
  await t.hub.publish('b', 'bye')
  await until(() => wire.closedWith, 'completed')
  assert.equal(wire.closedWith, Disconnects.complete)
})
