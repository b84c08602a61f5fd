import assert from 'node:assert/strict'
import { afterEach, test } from 'node:test'
import { setImmediate as turn } from 'node:timers/promises'
import { Disconnects } from '../../src/disconnect.js'
import { publicIdentifier } from '../../src/protocol/identifier.js'
import type { StreamMessage } from '../../src/protocol/messages.js'
import { scriptedCore, type ScriptedCore } from '../support/scripted-core.js'
import { until as untilDeadline } from '../support/util.js'

// In-process waits of a few turns: a 2 s deadline is ample (see connection-catchup.test.ts).
const until = <T>(check: () => T | Promise<T>, what: string) => untilDeadline(check, what, 2000)

// A catch-up's backlog and snapshot, through FakeWires: where the client's position leaves the
// subscription, a stream's last message inside the backlog, and which catch-ups send the
// stream's snapshot (a new subscription, a position that cannot be served; not a served history
// request).

const open: ScriptedCore[] = []
afterEach(async () => { for (const c of open.splice(0)) await c.close() })
const setup = (...args: Parameters<typeof scriptedCore>) => { const t = scriptedCore(...args); open.push(t); return t }
const id = (stream: string) => publicIdentifier(stream)
const types = (messages: any[]) => messages.map((m) => m.type ?? (m.stream_id ? `data:${m.offset}` : 'snapshot'))

test('a client already at the top is positioned there: nothing replayed, and the next gap is noticed', async () => {
  const t = setup()
  await t.hub.publish('s', 1)
  const m2 = await t.hub.publish('s', 2)
  const { wire, conn } = t.connect()
  await conn.subscribe(id('s'), { streams: { s: { epoch: m2.epoch, offset: 2 } } })
  assert.deepEqual(conn.positions()[0].streams, [{ stream: 's', epoch: m2.epoch, offset: 2 }])
  t.broker.drop.add(3)
  await t.hub.publish('s', 3)
  await t.hub.publish('s', 4)
  await until(() => wire.messages().filter((m) => m.stream_id).length === 2, 'recovered')
  assert.deepEqual(types(wire.messages()), ['welcome', 'confirm_subscription', 'confirm_history', 'data:3', 'data:4'])
})

test('a stream\'s last message in the backlog completes the connection after it', async () => {
  const t = setup()
  const m1 = await t.hub.publish('s', 'hi')
  await t.hub.publish('s', 'bye')
  const { wire, conn } = t.connect({ restorable: false })
  await conn.subscribe(id('s'), { streams: { s: { epoch: m1.epoch, offset: 0 } } }, { endsWith: (m) => m.data === '"bye"' })
  await until(() => wire.closedWith, 'completed')
  assert.equal(wire.closedWith, Disconnects.complete)
  assert.deepEqual(types(wire.messages()), ['welcome', 'confirm_subscription', 'data:1', 'data:2', 'confirm_history', 'disconnect'])
  assert.equal(wire.messages().at(-1).reason, 'complete')
})

test('the snapshot: after a new subscription (told of no backlog message when there was none), after a position that cannot be served, not after a served history request', async () => {
  const afters: (StreamMessage | undefined)[] = []
  const t = setup({}, { snapshot: (_stream, after) => { afters.push(after); return '{"snap":1}' } })
  const m1 = await t.hub.publish('s', 1)
  const { wire, conn } = t.connect()
  await conn.subscribe(id('s'))
  assert.deepEqual(afters, [undefined], 'no backlog: no last message')
  conn.receive(JSON.stringify({ command: 'history', identifier: id('s'), history: { streams: { s: { epoch: m1.epoch, offset: 0 } } } }))
  await until(() => wire.messages().some((m) => m.type === 'confirm_history'), 'served')
  conn.receive(JSON.stringify({ command: 'history', identifier: id('s'), history: { streams: { s: { epoch: 'gone', offset: 0 } } } }))
  await until(() => wire.messages().some((m) => m.type === 'reject_history'), 'refused')
  await turn()
  assert.deepEqual(types(wire.messages()), ['welcome', 'confirm_subscription', 'snapshot', 'confirm_history', 'reject_history', 'snapshot'])
  assert.equal(afters.length, 2)
})

test('history since a time in the future replays nothing (since is in seconds)', async () => {
  const t = setup()
  await t.hub.publish('s', 1)
  const { wire, conn } = t.connect()
  await conn.subscribe(id('s'), { since: Date.now() / 1000 + 3600 })
  await turn()
  assert.deepEqual(types(wire.messages()), ['welcome', 'confirm_subscription', 'confirm_history'])
})

test('a position the broker cannot serve and a broker that fails are told apart: the first is positioned at the top, the second reported as a failure', async () => {
  const t = setup()
  const m1 = await t.hub.publish('s', 1)
  const gone = t.connect()
  await gone.conn.subscribe(id('s'), { streams: { s: { epoch: 'gone', offset: 1 } } })
  assert.deepEqual(gone.conn.positions()[0].streams, [{ stream: 's', epoch: m1.epoch, offset: 1 }])
  // Reads after a position fail; the top can still be read.
  t.broker.historyWith = async (_stream, query) => { if (query.after) throw new Error('connection reset'); return undefined }
  const failing = t.connect()
  await failing.conn.subscribe(id('s'), { streams: { s: { epoch: m1.epoch, offset: 0 } } })
  assert.deepEqual(failing.conn.positions()[0].streams, [{ stream: 's', epoch: '', offset: 0 }], 'no baseline after a failure')
  assert.deepEqual(t.seen.historyReject?.map((e) => [e.sid, e.failed]), [[gone.conn.sid, false], [failing.conn.sid, true]])
})

test('a channel left while its snapshot is made gets no confirm_history', async () => {
  let release!: () => void
  const hook = new Promise<void>((resolve) => { release = resolve })
  const t = setup({}, { snapshot: async () => { await hook; return '{"snap":1}' } })
  const m1 = await t.hub.publish('s', 1)
  const { wire, conn } = t.connect()
  const subscribing = conn.subscribe(id('s'), { streams: { s: { epoch: m1.epoch, offset: 0 } } })
  await until(() => wire.messages().some((m) => m.offset === 1), 'the backlog')
  conn.unsubscribe(id('s'))
  release()
  await subscribing
  await turn()
  assert.ok(!wire.messages().some((m) => m.type === 'confirm_history'), JSON.stringify(types(wire.messages())))
})
