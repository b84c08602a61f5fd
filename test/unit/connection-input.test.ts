import assert from 'node:assert/strict'
import { afterEach, test } from 'node:test'
import { setImmediate as turn } from 'node:timers/promises'
import { Disconnects } from '../../src/disconnect.js'
import { publicIdentifier } from '../../src/protocol/identifier.js'
import { scriptedCore, type ScriptedCore } from '../support/scripted-core.js'

// A client's commands as an operator sees them refused or ignored (the herald:input:reject and
// herald:command:ignore events behind herald_errors_total{code} and the log), through FakeWires.

const open: ScriptedCore[] = []
afterEach(async () => { for (const c of open.splice(0)) await c.close() })
const setup = (...args: Parameters<typeof scriptedCore>) => { const t = scriptedCore(...args); open.push(t); return t }
const id = (stream: string) => publicIdentifier(stream)

test('a malformed command: disconnect invalid_command, reported as HERALD_ERR_BAD_COMMAND with the session', async () => {
  const t = setup()
  const { wire, conn } = t.connect()
  conn.receive('{"command":"subscribe"}')
  await turn()
  assert.equal(wire.closedWith, Disconnects.invalidCommand)
  assert.equal(wire.messages().at(-1).reason, 'invalid_command')
  assert.deepEqual(t.seen.inputReject?.map((e) => [e.code, e.context]), [['HERALD_ERR_BAD_COMMAND', { sid: conn.sid }]])
  assert.ok(t.seen.inputReject?.[0].detail.length > 0, 'says what was wrong')
})

test('over --rate-commands-per-connection: disconnect, reported as HERALD_ERR_RATE_LIMITED naming the limit', async () => {
  const t = setup({ rates: { connectionsPerIp: 0, commandsPerConnection: 2 } })
  const { wire, conn } = t.connect()
  for (let i = 0; i < 10 && conn.isOpen; i++) conn.receive('{"command":"ping"}')
  assert.equal(wire.closedWith, Disconnects.rateLimited)
  assert.deepEqual(t.seen.inputReject?.map((e) => [e.code, e.context, e.detail]), [
    ['HERALD_ERR_RATE_LIMITED', { sid: conn.sid, limit: 'commands' }, 'more than 2 commands a second (--rate-commands-per-connection)'],
  ])
})

test('message and whisper are ignored and reported with the session, the command and the identifier', async () => {
  const t = setup()
  const { wire, conn } = t.connect()
  conn.receive(JSON.stringify({ command: 'message', identifier: id('s'), data: '{}' }))
  conn.receive(JSON.stringify({ command: 'whisper', identifier: id('s'), data: '{}' }))
  conn.receive('{"command":"pong"}')
  await turn()
  assert.deepEqual(wire.messages().map((m) => m.type), ['welcome'])
  assert.equal(wire.closedWith, undefined)
  assert.deepEqual(t.seen.commandIgnore?.map((e) => [e.sid, e.command, e.identifier]), [[conn.sid, 'message', id('s')], [conn.sid, 'whisper', id('s')]])
})

test('a command that arrives after the connection ended does nothing: no subscription is left behind for it', async () => {
  const t = setup()
  const { wire, conn } = t.connect()
  await turn()
  conn.closed(Disconnects.normal)
  conn.receive(JSON.stringify({ command: 'subscribe', identifier: id('s') }))
  await turn()
  assert.equal(t.hub.subscriberCount('s'), 0)
  assert.deepEqual(conn.identifiers, [])
  assert.deepEqual(wire.messages().map((m) => m.type), ['welcome'])
})

test('an unsubscribe for a channel the client does not hold is ignored; the connection goes on', async () => {
  const t = setup()
  const { wire, conn } = t.connect()
  assert.doesNotThrow(() => conn.receive(JSON.stringify({ command: 'unsubscribe', identifier: id('never') })))
  await turn()
  assert.equal(conn.isOpen, true)
  assert.deepEqual(wire.messages().map((m) => m.type), ['welcome'])
})

test('over --max-subscriptions: the subscribe is answered as refused (not unavailable), for the transports that answer with a status', async () => {
  const t = setup({ maxSubscriptions: 1 })
  const { conn } = t.connect()
  assert.deepEqual(await conn.subscribe(id('a')), { ok: true })
  assert.deepEqual(await conn.subscribe(id('b')), { ok: false, why: 'this connection holds 1 subscriptions already (--max-subscriptions)', unavailable: false })
  assert.deepEqual(await conn.subscribe(id('a')), { ok: true }, 'a duplicate is no new subscription')
})

test('a reader too slow for its budget is reported as HERALD_ERR_TOO_SLOW with the session and the budget', async () => {
  const t = setup({ outboxBytes: 1000 })
  const { wire, conn } = t.connect()
  await conn.subscribe(id('s'))
  await turn()
  wire.bufferedBytes = 2000 // the session holds more than the budget, unsent
  await t.hub.publish('s', 1)
  assert.equal(wire.closedWith, Disconnects.slow)
  assert.deepEqual(t.seen.inputReject?.map((e) => [e.code, e.detail, e.context]), [['HERALD_ERR_TOO_SLOW', 'outbox over 1000 bytes', { sid: conn.sid }]])
})
