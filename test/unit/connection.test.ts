import assert from 'node:assert/strict'
import { afterEach, test } from 'node:test'
import { setImmediate as turn } from 'node:timers/promises'
import { Disconnects } from '../../src/disconnect.js'
import { publicIdentifier } from '../../src/protocol/identifier.js'
import type { StreamMessage } from '../../src/protocol/messages.js'
import { testCore, type TestCore } from '../support/core.js'
import { until } from '../support/util.js'

// The connection state machine on a real memory broker and hub, through a FakeWire: what a
// client would read, frame by frame.

const cores: TestCore[] = []
afterEach(async () => { for (const c of cores.splice(0)) await c.close() })
const setup = (...args: Parameters<typeof testCore>) => {
  const t = testCore(...args)
  cores.push(t)
  return t
}

const id = (stream: string) => publicIdentifier(stream)
/** The data messages a wire got for `stream`, as [offset, message]. */
const data = (messages: any[], stream: string) => messages.filter((m) => m.stream_id === stream).map((m) => [m.offset, m.message])

test('subscribe: confirm, then live messages in order, each once', async () => {
  const t = setup()
  const { wire, conn } = t.connect()
  conn.receive(JSON.stringify({ command: 'subscribe', identifier: id('s') }))
  await until(() => wire.messages().some((m) => m.type === 'confirm_subscription'), 'confirmed')
  for (let i = 1; i <= 3; i++) await t.hub.publish('s', { i })
  await turn()
  const got = wire.messages()
  assert.equal(got[0].type, 'welcome')
  assert.deepEqual(got[1], { type: 'confirm_subscription', identifier: id('s') })
  assert.deepEqual(data(got, 's'), [[1, { i: 1 }], [2, { i: 2 }], [3, { i: 3 }]])
})

test('a subscribe with a position replays the backlog, then live messages published meanwhile, with no gap and no duplicate', async () => {
  const t = setup()
  let epoch = ''
  for (let i = 1; i <= 5; i++) epoch = (await t.hub.publish('s', i)).epoch
  const { wire, conn } = t.connect()
  const subscribing = conn.subscribe(id('s'), { streams: { s: { epoch, offset: 2 } } })
  // Published while the subscription holds live messages for its catch-up.
  const live = [t.hub.publish('s', 6), t.hub.publish('s', 7)]
  await subscribing
  await Promise.all(live)
  await turn()
  const got = wire.messages()
  assert.deepEqual(data(got, 's').map(([o]) => o), [3, 4, 5, 6, 7])
  assert.ok(got.findIndex((m) => m.type === 'confirm_history') > got.findIndex((m) => m.offset === 5), 'the backlog before confirm_history')
})

test('a live message that skips an offset is recovered from history before it is delivered', async () => {
  const t = setup()
  const { wire, conn } = t.connect()
  await conn.subscribe(id('s'))
  t.drop.add(2).add(3) // appended to history, lost on the way to this node
  for (let i = 1; i <= 4; i++) await t.hub.publish('s', i)
  await until(() => data(wire.messages(), 's').length === 4, 'four messages')
  assert.deepEqual(data(wire.messages(), 's').map(([o]) => o), [1, 2, 3, 4])
  assert.equal(t.hub.counters.gapsRecovered, 1)
})

test('a new subscription starts at the stream\'s top, so even its first live message is checked for a gap', async () => {
  const t = setup()
  await t.hub.publish('s', 0)
  const { wire, conn } = t.connect()
  await conn.subscribe(id('s'))
  t.drop.add(2) // the first message after subscribing is lost on the way
  await t.hub.publish('s', 2)
  await t.hub.publish('s', 3)
  await until(() => data(wire.messages(), 's').length === 2, 'two messages')
  assert.deepEqual(data(wire.messages(), 's').map(([o]) => o), [2, 3], 'nothing from before the subscription, nothing lost after it')
})

test('after a broker reconnect a subscriber behind the top recovers what it missed', async () => {
  const t = setup()
  const { wire, conn } = t.connect()
  await conn.subscribe(id('s'))
  await t.hub.publish('s', 1)
  t.drop.add(2)
  await t.hub.publish('s', 2) // the last message: no later one shows the gap
  t.brokerEvents.resubscribed!() // the hub asks where each stream stands and tells its subscribers
  await until(() => data(wire.messages(), 's').length === 2, 'recovered')
  assert.deepEqual(data(wire.messages(), 's').map(([o]) => o), [1, 2])
})

test('an unservable position gets reject_history, then the stream\'s snapshot, then live messages', async () => {
  const snapshots: string[] = []
  const t = setup({}, { snapshot: (stream) => { snapshots.push(stream); return '{"state":"now"}' } })
  await t.hub.publish('s', 1)
  const { wire, conn } = t.connect()
  await conn.subscribe(id('s'), { streams: { s: { epoch: 'gone', offset: 1 } } })
  await t.hub.publish('s', 2)
  await turn()
  const types = wire.messages().map((m) => m.type ?? (m.offset ? `data:${m.offset}` : 'transmit'))
  assert.deepEqual(types, ['welcome', 'confirm_subscription', 'reject_history', 'transmit', 'data:2'])
  assert.deepEqual(snapshots, ['s'])
})

test('the snapshot follows the backlog, and is left out when the backlog ends with the stream\'s last message', async () => {
  const final = (m: StreamMessage) => m.data === '"end"'
  const t = setup({}, { snapshot: (_stream, after) => (after && final(after) ? undefined : '{"snap":1}') })
  const first = await t.hub.publish('s', 'a')
  const a = t.connect()
  await a.conn.subscribe(id('s'), { streams: { s: { epoch: first.epoch, offset: 0 } } })
  await turn()
  assert.deepEqual(a.wire.messages().slice(2).map((m) => m.message), ['a', { snap: 1 }, undefined])
  await t.hub.publish('s', 'end')
  const b = t.connect()
  await b.conn.subscribe(id('s'), { streams: { s: { epoch: first.epoch, offset: 0 } } })
  await turn()
  assert.deepEqual(b.wire.messages().slice(2).map((m) => m.message ?? m.type), ['a', 'end', 'confirm_history'])
})

test('endsWith: the connection completes after its stream\'s last message, the message first', async () => {
  const t = setup()
  const { wire, conn } = t.connect({ restorable: false })
  await conn.subscribe(id('s'), undefined, { endsWith: (m) => m.data === '"bye"' })
  await t.hub.publish('s', 'hi')
  await t.hub.publish('s', 'bye')
  await until(() => wire.closedWith !== undefined, 'closed')
  assert.equal(wire.closedWith, Disconnects.complete)
  const got = wire.messages()
  assert.deepEqual(got.slice(-3).map((m) => m.message ?? m.reason), ['hi', 'bye', 'complete'])
})

test('held live messages count against the outbox budget: a reader behind it is cut too_slow', async () => {
  const t = setup({ outboxBytes: 2000 })
  const { wire, conn } = t.connect()
  await conn.subscribe(id('s'))
  wire.accept = false // the kernel stops taking bytes
  await t.hub.publish('s', 'x')
  await turn() // the outbox writes once, is refused, and waits for a drain that never comes
  for (let i = 0; i < 50 && wire.closedWith === undefined; i++) await t.hub.publish('s', 'y'.repeat(200))
  assert.equal(wire.closedWith, Disconnects.slow)
  assert.equal(t.core.clients.size, 0)
})

test('restore: the channels come back held until the client\'s history request, which replays exactly what it missed', async () => {
  const t = setup()
  const first = t.connect()
  await first.conn.subscribe(id('s'))
  const m1 = await t.hub.publish('s', 1)
  first.conn.closed(Disconnects.normal) // the socket dropped; the session is kept for restore
  await t.hub.publish('s', 2) // while it is away
  const again = t.connect({}, `http://test/cable?sid=${first.conn.sid}`)
  await turn()
  assert.deepEqual(again.wire.messages()[0].restored_ids, [id('s')])
  await t.hub.publish('s', 3) // live, held until the history request
  await turn()
  assert.equal(data(again.wire.messages(), 's').length, 0, 'held')
  again.conn.receive(JSON.stringify({ command: 'history', identifier: id('s'), history: { streams: { s: { epoch: m1.epoch, offset: 1 } } } }))
  await until(() => again.wire.messages().some((m) => m.type === 'confirm_history'), 'history confirmed')
  await turn()
  assert.deepEqual(data(again.wire.messages(), 's').map(([o]) => o), [2, 3])
  assert.equal(t.core.sessions.size, 0, 'a session is restored once')
})

test('a base-protocol wire gets reject_history for a history request and keeps nothing to restore', async () => {
  const t = setup()
  const { wire, conn } = t.connect({ extended: false })
  await conn.subscribe(id('s'), { since: 1 })
  await turn()
  conn.closed(Disconnects.normal)
  assert.ok(wire.messages().some((m) => m.type === 'reject_history'))
  assert.equal(t.core.sessions.size, 0)
})
