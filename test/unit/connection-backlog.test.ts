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
