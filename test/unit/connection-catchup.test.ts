import assert from 'node:assert/strict'
import { afterEach, test } from 'node:test'
import { setImmediate as turn } from 'node:timers/promises'
import { HistoryUnavailable } from '../../src/broker/broker.js'
import { Disconnects } from '../../src/disconnect.js'
import { publicIdentifier } from '../../src/protocol/identifier.js'
import { testCore, type TestCore } from '../support/core.js'
import { FakeWire } from '../support/fake-wire.js'
import { deferred, scriptedCore, type ScriptedCore } from '../support/scripted-core.js'
import { until as untilDeadline } from '../support/util.js'

// Everything here happens in this process within a few turns: a 2 s deadline is ample, and a
// mutant that breaks a wait fails it in 2 s rather than the suite's usual 10 (Stryker runs this
// file once per mutant it covers).
const until = <T>(check: () => T | Promise<T>, what: string) => untilDeadline(check, what, 2000)

// Catch-up and recovery as a client sees them, through a FakeWire: a session taken over from
// another node, history reads that fail, recoveries that cannot be served, and a broker that
// comes back without its data. The ScriptedBroker plays what only a network broker does.

const open: (TestCore | ScriptedCore)[] = []
afterEach(async () => { for (const c of open.splice(0)) await c.close() })
const memory = () => { const t = testCore(); open.push(t); return t }
const scripted = (...args: Parameters<typeof scriptedCore>) => { const t = scriptedCore(...args); open.push(t); return t }

const id = (stream: string) => publicIdentifier(stream)
const data = (messages: any[], stream: string) => messages.filter((m) => m.stream_id === stream).map((m) => [m.offset, m.message])
const offsets = (messages: any[], stream: string) => data(messages, stream).map(([o]) => o)
const types = (messages: any[]) => messages.map((m) => m.type ?? (m.stream_id ? `data:${m.stream_id}:${m.offset}` : `transmit:${JSON.stringify(m.message)}`))
const command = (conn: { receive(text: string): void }, c: object) => conn.receive(JSON.stringify(c))

test('positions: each channel\'s streams with the epoch and offset delivered so far', async () => {
  const t = memory()
  const { wire, conn } = t.connect()
  await conn.subscribe(id('s'))
  await conn.subscribe(id('quiet'))
  const m1 = await t.hub.publish('s', 1)
  await t.hub.publish('s', 2)
  await until(() => offsets(wire.messages(), 's').length === 2, 'two messages')
  const quietTop = (await t.hub.history('quiet', { limit: 0 })).top
  assert.deepEqual(conn.positions(), [
    { identifier: id('s'), streams: [{ stream: 's', epoch: m1.epoch, offset: 2 }] },
    { identifier: id('quiet'), streams: [{ stream: 'quiet', epoch: quietTop.epoch, offset: 0 }] },
  ])
})

test('a session taken over from another node resumes from its positions: no welcome, no confirmation, nothing twice, nothing lost', async () => {
  const t = memory()
  const a = t.connect()
  await a.conn.subscribe(id('s'))
  await t.hub.publish('s', 1)
  await t.hub.publish('s', 2)
  await until(() => offsets(a.wire.messages(), 's').length === 2, 'two messages on the first node')
  const positions = a.conn.positions()
  // The stream `fresh` had no position yet on the other node: its backlog is not replayed.
  positions.push({ identifier: id('fresh'), streams: [{ stream: 'fresh', epoch: '', offset: 0 }] })
  a.conn.closed(Disconnects.normal)
  await t.hub.publish('s', 3)
  await t.hub.publish('s', 4)
  await t.hub.publish('fresh', 'old')
  const wire = new FakeWire()
  const conn = t.core.adopt(wire, { url: new URL('http://test/poll'), headers: {}, remoteAddress: '127.0.0.1' }, a.conn.sid, positions)
  assert.equal(conn.sid, a.conn.sid)
  assert.deepEqual(conn.identifiers, [id('s'), id('fresh')])
  await until(() => offsets(wire.messages(), 's').length === 2, 'the missed messages')
  await t.hub.publish('s', 5)
  await t.hub.publish('fresh', 'new')
  await until(() => offsets(wire.messages(), 'fresh').length === 1, 'the live message of fresh')
  await until(() => offsets(wire.messages(), 's').length === 3, 'the live message of s')
  assert.deepEqual(types(wire.messages()).filter((x) => !x.startsWith('data:')), [], 'nothing but data: no welcome, confirmation, history reply or snapshot')
  assert.deepEqual(data(wire.messages(), 's'), [[3, 3], [4, 4], [5, 5]])
  assert.deepEqual(data(wire.messages(), 'fresh'), [[2, 'new']])
})

test('a subscribe waits for the broker\'s subscription: unsettled until then, confirmed after it, a message published meanwhile delivered once', async () => {
  const t = scripted()
  const gate = deferred()
  t.broker.subscribeWith = gate.promise
  const { wire, conn } = t.connect()
  let settled = 0
  const subscribing = conn.subscribe(id('s'))
  assert.equal(conn.settling, true)
  conn.whenSettled(() => settled++)
  await t.hub.publish('s', 'early')
  await turn()
  assert.deepEqual(types(wire.messages()), ['welcome'], 'nothing before the broker subscribed')
  assert.deepEqual(conn.positions(), [{ identifier: id('s'), streams: [{ stream: 's', epoch: '', offset: 0 }] }], 'no position yet')
  assert.equal(settled, 0)
  gate.resolve()
  assert.deepEqual(await subscribing, { ok: true })
  assert.equal(conn.settling, false)
  assert.equal(settled, 1)
  await turn()
  assert.deepEqual(types(wire.messages()), ['welcome', 'confirm_subscription', 'data:s:1'])
  let now = 0
  conn.whenSettled(() => now++)
  assert.equal(now, 1, 'called at once when nothing is under way')
})

test('a broker that cannot subscribe: reject_subscription naming why, the channel not held, a later subscribe works', async () => {
  const t = scripted()
  const { wire, conn } = t.connect()
  t.broker.subscribeWith = Promise.reject(new Error('redis is down'))
  t.broker.subscribeWith.catch(() => {})
  const outcome = await conn.subscribe(id('s'))
  await turn()
  assert.deepEqual(outcome, { ok: false, why: 'the broker could not subscribe: redis is down', unavailable: true })
  assert.deepEqual(wire.messages().slice(1), [{ type: 'reject_subscription', identifier: id('s'), reason: 'the broker could not subscribe: redis is down' }])
  assert.deepEqual(conn.identifiers, [])
  assert.deepEqual(t.seen.subscriptionReject?.map((e) => e.why), ['the broker could not subscribe: redis is down'])
  t.broker.subscribeWith = undefined
  assert.deepEqual(await conn.subscribe(id('s')), { ok: true })
  assert.deepEqual(conn.identifiers, [id('s')])
})

test('unsubscribed or gone while the broker subscribes: the subscribe ends "unsubscribed", with no confirmation and no refusal', async () => {
  const t = scripted()
  // Unsubscribed, and then the broker's subscribe succeeds.
  const ok = deferred()
  t.broker.subscribeWith = ok.promise
  const a = t.connect()
  const first = a.conn.subscribe(id('s'))
  a.conn.unsubscribe(id('s'))
  ok.resolve()
  assert.deepEqual(await first, { ok: false, why: 'unsubscribed', unavailable: false })
  // Unsubscribed, and then the broker's subscribe fails.
  const failing = deferred()
  t.broker.subscribeWith = failing.promise
  const second = a.conn.subscribe(id('t'))
  a.conn.unsubscribe(id('t'))
  failing.reject(new Error('down'))
  assert.deepEqual(await second, { ok: false, why: 'unsubscribed', unavailable: false })
  await turn()
  assert.deepEqual(types(a.wire.messages()), ['welcome'])
  assert.equal(t.seen.subscriptionReject, undefined)
  // The connection closed meanwhile.
  const late = deferred()
  t.broker.subscribeWith = late.promise
  const b = t.connect()
  await turn() // welcomed
  const third = b.conn.subscribe(id('u'))
  b.conn.closed(Disconnects.normal)
  late.resolve()
  assert.deepEqual(await third, { ok: false, why: 'unsubscribed', unavailable: false })
  await turn()
  assert.deepEqual(types(b.wire.messages()), ['welcome'])
})

test('history the broker fails to read on subscribe: confirmed, no backlog, the snapshot, then live messages; reject_history only when history was asked', async () => {
  const t = scripted({}, { snapshot: (stream) => `{"snap":"${stream}"}` })
  const m1 = await t.hub.publish('s', 1)
  t.broker.historyWith = async () => { throw new Error('connection reset') }
  const plain = t.connect()
  assert.deepEqual(await plain.conn.subscribe(id('s')), { ok: true })
  const asking = t.connect()
  assert.deepEqual(await asking.conn.subscribe(id('s'), { streams: { s: { epoch: m1.epoch, offset: 0 } } }), { ok: true })
  t.broker.historyWith = undefined
  await t.hub.publish('s', 2)
  await until(() => offsets(asking.wire.messages(), 's').length === 1 && offsets(plain.wire.messages(), 's').length === 1, 'the live message')
  assert.deepEqual(types(plain.wire.messages()), ['welcome', 'confirm_subscription', 'transmit:{"snap":"s"}', 'data:s:2'])
  assert.deepEqual(types(asking.wire.messages()), ['welcome', 'confirm_subscription', 'reject_history', 'transmit:{"snap":"s"}', 'data:s:2'])
  assert.deepEqual(t.seen.historyReject?.map((e) => [e.why, e.failed]), [['connection reset', true], ['connection reset', true]])
})

test('a history command the broker fails to read: reject_history and the snapshot, no confirm_history, held live messages released', async () => {
  const t = scripted({}, { snapshot: () => '{"snap":1}' })
  const { wire, conn } = t.connect()
  await conn.subscribe(id('s'))
  const m1 = await t.hub.publish('s', 1)
  await until(() => offsets(wire.messages(), 's').length === 1, 'first message')
  const reading = deferred<undefined>()
  t.broker.historyWith = () => reading.promise
  command(conn, { command: 'history', identifier: id('s'), history: { streams: { s: { epoch: m1.epoch, offset: 0 } } } })
  await t.hub.publish('s', 2) // held while history is read
  await turn()
  assert.deepEqual(offsets(wire.messages(), 's'), [1])
  reading.reject(new Error('timeout'))
  await until(() => offsets(wire.messages(), 's').length === 2, 'the held message')
  assert.deepEqual(types(wire.messages()).slice(2), ['transmit:{"snap":1}', 'data:s:1', 'reject_history', 'transmit:{"snap":1}', 'data:s:2'])
})

test('a history command with nothing to replay releases a restored channel\'s held messages at once, without confirm_history', async () => {
  const t = memory()
  const first = t.connect()
  await first.conn.subscribe(id('s'))
  await t.hub.publish('s', 1)
  first.conn.closed(Disconnects.normal)
  const again = t.connect({}, `http://test/cable?sid=${first.conn.sid}`)
  await until(() => again.wire.messages()[0]?.restored === true, 'restored')
  await t.hub.publish('s', 2) // held for the history request
  await turn()
  assert.deepEqual(offsets(again.wire.messages(), 's'), [])
  command(again.conn, { command: 'history', identifier: id('s'), history: {} })
  await until(() => offsets(again.wire.messages(), 's').length === 1, 'released')
  await t.hub.publish('s', 3) // then live
  await until(() => offsets(again.wire.messages(), 's').length === 2, 'live')
  assert.deepEqual(types(again.wire.messages()).slice(1), ['data:s:2', 'data:s:3'])
})

test('a gap history cannot fill (a broker failure or messages no longer kept): reject_history, the snapshot, then on from the message that showed the gap', async () => {
  for (const [failure, failed] of [[new Error('connection reset'), true], [new HistoryUnavailable('messages after offset 1 are no longer kept'), false]] as const) {
    const t = scripted({}, { snapshot: () => '{"snap":1}' })
    const { wire, conn } = t.connect()
    await conn.subscribe(id('s'))
    await t.hub.publish('s', 1)
    await until(() => offsets(wire.messages(), 's').length === 1, 'first message')
    t.broker.drop.add(2)
    t.broker.historyWith = async (_stream, query) => { if (query.after) throw failure; return undefined }
    await t.hub.publish('s', 2)
    await t.hub.publish('s', 3) // shows the gap
    await until(() => offsets(wire.messages(), 's').length === 2, 'on from 3')
    t.broker.historyWith = undefined
    await t.hub.publish('s', 4)
    await until(() => offsets(wire.messages(), 's').length === 3, 'then 4')
    assert.deepEqual(types(wire.messages()).slice(2), ['transmit:{"snap":1}', 'data:s:1', 'reject_history', 'transmit:{"snap":1}', 'data:s:3', 'data:s:4'], String(failure))
    assert.deepEqual(t.seen.historyGap?.map((e) => [e.stream, e.after, e.got]), [['s', 1, 3]])
    assert.deepEqual(t.seen.historyReject?.map((e) => [e.identifier, e.why, e.failed]), [[id('s'), failure.message, failed]])
    assert.equal(t.hub.counters.gapsRecovered, 1)
    await t.close()
  }
})

test('a base-protocol client whose gap cannot be filled gets no reject_history, only the snapshot and what follows', async () => {
  const t = scripted({}, { snapshot: () => '{"snap":1}' })
  const { wire, conn } = t.connect({ extended: false })
  await conn.subscribe(id('s'))
  await t.hub.publish('s', 1)
  await until(() => offsets(wire.messages(), 's').length === 1, 'first message')
  t.broker.drop.add(2)
  t.broker.historyWith = async (_stream, query) => { if (query.after) throw new Error('down'); return undefined }
  await t.hub.publish('s', 2)
  await t.hub.publish('s', 3)
  await until(() => offsets(wire.messages(), 's').length === 2, 'on from 3')
  assert.deepEqual(types(wire.messages()).slice(2), ['transmit:{"snap":1}', 'data:s:1', 'transmit:{"snap":1}', 'data:s:3'])
})

test('a recovery whose answer comes after an unsubscribe delivers nothing', async () => {
  for (const outcome of ['answer', 'failure'] as const) {
    const t = scripted({}, { snapshot: () => '{"snap":1}' })
    const { wire, conn } = t.connect()
    await conn.subscribe(id('s'))
    await t.hub.publish('s', 1)
    await until(() => offsets(wire.messages(), 's').length === 1, 'first message')
    const reading = deferred<undefined>()
    t.broker.historyWith = (_stream, query) => (query.after ? reading.promise : Promise.resolve(undefined))
    t.broker.drop.add(2)
    await t.hub.publish('s', 2)
    await t.hub.publish('s', 3) // shows the gap
    await until(() => t.seen.historyGap?.length === 1, 'recovering')
    conn.unsubscribe(id('s'))
    if (outcome === 'answer') reading.resolve(undefined)
    else reading.reject(new Error('down'))
    await turn()
    await turn()
    assert.deepEqual(types(wire.messages()), ['welcome', 'confirm_subscription', 'transmit:{"snap":1}', 'data:s:1'], outcome)
    await t.close()
  }
})

test('after a broker reconnect, a subscriber at the top recovers nothing; one whose stream lost its history gets reject_history and the snapshot', async () => {
  const t = scripted({}, { snapshot: () => '{"snap":1}' })
  const ext = t.connect()
  const base = t.connect({ extended: false })
  await ext.conn.subscribe(id('s'))
  await base.conn.subscribe(id('s'))
  const m1 = await t.hub.publish('s', 1)
  await until(() => offsets(ext.wire.messages(), 's').length === 1 && offsets(base.wire.messages(), 's').length === 1, 'first message')
  t.brokerEvents.resubscribed!()
  await until(() => t.broker.queries.filter((q) => q.query.limit === 0).length >= 3, 'the top read again')
  await turn()
  assert.equal(t.hub.counters.gapsRecovered, 0)
  assert.equal(t.broker.queries.filter((q) => q.query.after).length, 0, 'no recovery read')
  // The broker came back without the stream's data: a new epoch.
  t.broker.historyWith = async (_stream, query) => (query.limit === 0 ? { messages: [], top: { epoch: 'reborn', offset: 0 } } : undefined)
  t.brokerEvents.resubscribed!()
  const snaps = (w: typeof ext.wire) => w.messages().filter((m) => m.message?.snap === 1).length
  await until(() => snaps(base.wire) === 2 && snaps(ext.wire) === 2, 'the snapshots')
  assert.deepEqual(types(ext.wire.messages()).slice(2), ['transmit:{"snap":1}', 'data:s:1', 'reject_history', 'transmit:{"snap":1}'])
  assert.deepEqual(types(base.wire.messages()).slice(2), ['transmit:{"snap":1}', 'data:s:1', 'transmit:{"snap":1}'])
  assert.deepEqual(t.seen.historyReject?.map((e) => e.why), [`epoch ${m1.epoch} is gone (now reborn)`, `epoch ${m1.epoch} is gone (now reborn)`])
  assert.deepEqual(ext.conn.positions()[0].streams, [{ stream: 's', epoch: 'reborn', offset: 0 }])
})
