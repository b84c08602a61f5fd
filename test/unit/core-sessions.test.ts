import assert from 'node:assert/strict'
import { afterEach, test } from 'node:test'
import { setImmediate as turn } from 'node:timers/promises'
import { Disconnects } from '../../src/disconnect.js'
import { publicIdentifier } from '../../src/protocol/identifier.js'
import type { FakeWire } from '../support/fake-wire.js'
import { scriptedCore, type ScriptedCore } from '../support/scripted-core.js'
import { until as untilDeadline } from '../support/util.js'

// Everything here happens in this process within a few turns: a 2 s deadline is ample, and a
// mutant that breaks a wait fails it in 2 s rather than the suite's usual 10 (Stryker runs this
// file once per mutant it covers).
const until = <T>(check: () => T | Promise<T>, what: string) => untilDeadline(check, what, 2000)

// The core's admission and its sessions, as a client and an operator see them, on FakeWires and
// a ScriptedBroker (a network broker: sessions are kept while they live, its store can fail):
// restore by header or parameter, a store that is down, sessions kept and forgotten,
// and the per-address session rate.

const open: ScriptedCore[] = []
afterEach(async () => { for (const c of open.splice(0)) await c.close() })
const setup = (...args: Parameters<typeof scriptedCore>) => { const t = scriptedCore(...args); open.push(t); return t }
const id = (stream: string) => publicIdentifier(stream)
const sets = (t: ScriptedCore, sid: string) => t.broker.storeOps.filter((op) => op === `set ${sid}`).length

test('a restore names its sid in X-AnyCable-Restore-SID (first value) or ?sid=; a wire that cannot restore ignores both', async () => {
  const t = setup()
  const dropped = async () => {
    const { conn } = t.connect()
    await conn.subscribe(id('s'))
    conn.closed(Disconnects.normal)
    await until(() => t.broker.storeOps.includes(`set ${conn.sid}`), 'kept')
    await turn()
    return conn.sid
  }
  const welcome = async (w: FakeWire) => { await until(() => w.messages().length > 0, 'welcome'); return w.messages()[0] }
  const byHeader = t.connect({}, undefined, { 'x-anycable-restore-sid': [await dropped(), 'other'] })
  assert.deepEqual((await welcome(byHeader.wire)).restored_ids, [id('s')])
  const byQuery = t.connect({}, `http://test/cable?sid=${await dropped()}`)
  assert.deepEqual((await welcome(byQuery.wire)).restored_ids, [id('s')])
  const sid = await dropped()
  for (const info of [{ transport: 'sse' as const, restorable: false }, { extended: false }]) {
    const plain = t.connect(info, `http://test/cable?sid=${sid}`, { 'x-anycable-restore-sid': sid })
    const w = await welcome(plain.wire)
    assert.equal(w.restored, undefined, JSON.stringify(info))
    assert.notEqual(w.sid, sid)
  }
  assert.deepEqual((await welcome(t.connect({}, `http://test/cable?sid=${sid}`).wire)).restored_ids, [id('s')], 'still there for a wire that can restore')
})

test('a store that is down when a client asks to be restored: a fresh session, reported, not a hang', async () => {
  const t = setup()
  const { conn } = t.connect()
  await conn.subscribe(id('s'))
  conn.closed(Disconnects.normal)
  t.broker.storeFailure = new Error('store unreachable')
  const again = t.connect({}, `http://test/cable?sid=${conn.sid}`)
  await until(() => again.wire.messages().length > 0, 'welcome')
  assert.deepEqual(again.wire.messages(), [{ type: 'welcome', sid: again.conn.sid }])
  assert.deepEqual(t.seen.brokerError?.map((e) => [e.op, e.err.message]), [['restore a session', 'store unreachable']])
})

test('with a network broker a session is kept while it lives, once per turn, and restorable elsewhere; an end that says not to come back forgets it', async () => {
  const t = setup()
  const { conn } = t.connect()
  await conn.subscribe(id('a'))
  await conn.subscribe(id('b'))
  await until(() => sets(t, conn.sid) > 0, 'kept')
  await turn()
  assert.equal(sets(t, conn.sid), 1, 'two subscribes in a row, saved once')
  const oneWay = t.connect({ transport: 'sse', bidirectional: false, restorable: false })
  await oneWay.conn.subscribe(id('a'))
  await turn()
  await turn()
  assert.equal(sets(t, oneWay.conn.sid), 0, 'a wire that cannot restore is never kept')
  // Restored on "another node" while the first connection still lives (its node was killed).
  const elsewhere = t.connect({}, `http://test/cable?sid=${conn.sid}`)
  await until(() => elsewhere.wire.messages().length > 0, 'welcome')
  assert.deepEqual(elsewhere.wire.messages()[0].restored_ids, [id('a'), id('b')])
  // An end that says not to reconnect: the session kept while it lived is forgotten.
  await until(() => sets(t, elsewhere.conn.sid) > 0, 'the restored session kept')
  elsewhere.conn.disconnect(Disconnects.unauthorized)
  await until(() => t.broker.storeOps.includes(`delete ${elsewhere.conn.sid}`), 'forgotten')
  const late = t.connect({}, `http://test/cable?sid=${elsewhere.conn.sid}`)
  await until(() => late.wire.messages().length > 0, 'welcome')
  assert.equal(late.wire.messages()[0].restored, undefined)
  // A one-way wire's end forgets nothing: it was never kept.
  oneWay.conn.disconnect(Disconnects.unauthorized)
  await turn()
  assert.ok(!t.broker.storeOps.includes(`delete ${oneWay.conn.sid}`))
})

test('a store that fails to keep or forget a session is reported; the client goes on', async () => {
  const t = setup()
  t.broker.storeFailure = new Error('store unreachable')
  const { wire, conn } = t.connect()
  await conn.subscribe(id('s'))
  await until(() => t.seen.brokerError?.length, 'reported')
  assert.deepEqual(t.seen.brokerError?.map((e) => [e.op, e.err.message]), [['keep a session for restore', 'store unreachable']])
  conn.disconnect(Disconnects.unauthorized)
  await until(() => t.seen.brokerError?.length === 2, 'reported')
  assert.deepEqual(t.seen.brokerError?.[1].op, 'forget a session')
  assert.equal(wire.closedWith, Disconnects.unauthorized)
})

test('--rate-connections-per-ip: a new session past the burst from one address is refused with 429 and when to retry; another address is not', async () => {
  const t = setup({ rates: { connectionsPerIp: 1, commandsPerConnection: 0 } })
  const from = (remoteAddress: string | undefined) => ({ url: new URL('http://test/cable'), headers: {}, remoteAddress })
  // A burst of two (twice the rate) from each address.
  for (const remote of ['10.0.0.1', '10.0.0.2', undefined]) for (let i = 0; i < 2; i++) await t.core.admit(from(remote))
  await assert.rejects(t.core.admit(from('10.0.0.1')), (err: any) => {
    assert.equal(err.code, 'HERALD_ERR_RATE_LIMITED')
    assert.equal(err.status, 429)
    assert.ok(err.retryAfterSec >= 1, `retry after ${err.retryAfterSec}`)
    assert.match(err.message, /more than 1 new sessions a second from this address \(--rate-connections-per-ip\)/)
    return true
  })
  assert.equal(typeof t.core.overConnectionRate(undefined), 'number', 'an unknown address has a bucket of its own, now empty')
  assert.equal(t.core.overConnectionRate('10.0.0.3'), undefined)
  const unlimited = setup()
  for (let i = 0; i < 5; i++) assert.equal(unlimited.core.overConnectionRate('10.0.0.1'), undefined)
})
