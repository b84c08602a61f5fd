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

// The edges of a connection and of the core around it, through FakeWires: stream hooks that
// fail or say nothing, a stream's end test that throws, refusals, held bytes given back.

const open: ScriptedCore[] = []
afterEach(async () => { for (const c of open.splice(0)) await c.close() })
const setup = (...args: Parameters<typeof scriptedCore>) => { const t = scriptedCore(...args); open.push(t); return t }

const id = (stream: string) => publicIdentifier(stream)
const types = (messages: any[]) => messages.map((m) => m.type ?? (m.stream_id ? `data:${m.stream_id}:${m.offset}` : `transmit:${JSON.stringify(m.message)}`))

test('a snapshot hook that throws costs the subscriber its snapshot, not its subscription; the failure is reported', async () => {
  const t = setup({}, { snapshot: () => { throw new Error('job store down') } })
  const { wire, conn } = t.connect()
  assert.deepEqual(await conn.subscribe(id('s')), { ok: true })
  await t.hub.publish('s', 1)
  await until(() => wire.messages().length === 3, 'the live message')
  assert.deepEqual(types(wire.messages()), ['welcome', 'confirm_subscription', 'data:s:1'])
  assert.deepEqual(t.seen.requestFail?.map((e) => [e.where, e.err.message]), [['snapshot of s', 'job store down']])
})

test('several hooks: the first that has something for the stream is sent, later ones are not asked', async () => {
  const asked: string[] = []
  const t = setup({},
    { snapshot: async (stream) => { asked.push(`a:${stream}`); return stream === 'a' ? '{"from":"a"}' : undefined } },
    { snapshot: (stream) => { asked.push(`b:${stream}`); return stream === 'c' ? undefined : '{"from":"b"}' } })
  const { wire, conn } = t.connect()
  await conn.subscribe(id('a'))
  await conn.subscribe(id('b'))
  await conn.subscribe(id('c'))
  await turn()
  assert.deepEqual(types(wire.messages()), ['welcome', 'confirm_subscription', 'transmit:{"from":"a"}', 'confirm_subscription', 'transmit:{"from":"b"}', 'confirm_subscription'])
  assert.deepEqual(asked, ['a:a', 'a:b', 'b:b', 'a:c', 'b:c'])
})

test('a stream end test that throws ends that connection with internal_error, reported; others go on', async () => {
  const t = setup()
  const bad = t.connect({ restorable: false })
  const good = t.connect()
  await bad.conn.subscribe(id('s'), undefined, { endsWith: () => { throw new Error('bad end test') } })
  await good.conn.subscribe(id('s'))
  await t.hub.publish('s', 1)
  await until(() => bad.wire.closedWith, 'closed')
  assert.equal(bad.wire.closedWith, Disconnects.internal)
  assert.equal(bad.wire.messages().at(-1).reason, 'internal_error')
  assert.equal(t.seen.requestFail?.[0].where, `connection ${bad.conn.sid}`)
  assert.equal(t.seen.requestFail?.[0].err.message, 'bad end test')
  await until(() => good.wire.messages().some((m) => m.offset === 1), 'delivered to the other connection')
  assert.equal(good.conn.isOpen, true)
})

test('a stream the authorizer refuses: reject_subscription with its reason, reported, nothing held', async () => {
  const t = setup({ publicStreams: false })
  const { wire, conn } = t.connect()
  const outcome = await conn.subscribe(id('s'))
  assert.deepEqual(outcome, { ok: false, why: 'public streams are disabled (--public-streams)', unavailable: false })
  await turn()
  assert.deepEqual(wire.messages().slice(1), [{ type: 'reject_subscription', identifier: id('s'), reason: 'public streams are disabled (--public-streams)' }])
  assert.deepEqual(t.seen.subscriptionReject?.map((e) => [e.identifier, e.why]), [[id('s'), 'public streams are disabled (--public-streams)']])
  assert.deepEqual(conn.identifiers, [])
})

test('held messages of a channel that is unsubscribed give their bytes back to the budget', async () => {
  const t = setup({ outboxBytes: 3000 })
  const { wire, conn } = t.connect()
  // Twice: hold about 2,000 bytes while the broker subscribes, then unsubscribe. Counted twice,
  // 4,000 bytes would be over the 3,000-byte budget.
  for (const stream of ['a', 'b']) {
    const gate = deferred()
    t.broker.subscribeWith = gate.promise
    const subscribing = conn.subscribe(id(stream))
    await t.hub.publish(stream, 'x'.repeat(1000))
    await t.hub.publish(stream, 'y'.repeat(900))
    conn.unsubscribe(id(stream))
    gate.resolve()
    await subscribing
  }
  t.broker.subscribeWith = undefined
  await conn.subscribe(id('c'))
  await t.hub.publish('c', 'z'.repeat(100))
  await until(() => wire.messages().some((m) => m.stream_id === 'c'), 'delivered')
  assert.equal(wire.closedWith, undefined, 'not too slow')
  assert.equal(conn.isOpen, true)
})
