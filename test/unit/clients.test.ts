import assert from 'node:assert/strict'
import { afterEach, test } from 'node:test'
import { Disconnects } from '../../src/disconnect.js'
import { testCore, type TestCore } from '../support/core.js'
import { until } from '../support/util.js'

// The node's connections and their shared timers (src/core/clients.ts) as a client meets them:
// protocol pings, the inactivity and lifetime limits, the session limit, shutdown. Real timers on
// a core with FakeWires; every wait is on state, with a deadline.

const cores: TestCore[] = []
afterEach(async () => { for (const c of cores.splice(0)) await c.close() })
const setup = (...args: Parameters<typeof testCore>) => {
  const t = testCore(...args)
  cores.push(t)
  t.core.start()
  return t
}

test('every connection gets protocol pings carrying the time in Unix seconds, encoded once per framing', async () => {
  const t = setup({ pingIntervalMs: 20 })
  const a = t.connect()
  const b = t.connect()
  const before = Math.floor(Date.now() / 1000)
  const pings = (w: typeof a.wire) => w.messages().filter((m) => m.type === 'ping')
  await until(() => pings(a.wire).length >= 2 && pings(b.wire).length >= 2, 'two pings on each wire')
  const after = Math.ceil(Date.now() / 1000)
  for (const ping of [...pings(a.wire), ...pings(b.wire)]) {
    assert.ok(Number.isInteger(ping.message), `an integer: ${ping.message}`)
    assert.ok(ping.message >= before && ping.message <= after, `seconds, not milliseconds: ${ping.message}`)
  }
  assert.equal(a.wire.closedWith, undefined, 'pings alone end nothing')
})

test('without --ping-interval no ping is sent', async () => {
  const t = setup({ pingIntervalMs: 0, maxLifetimeMs: 50 })
  const { wire } = t.connect()
  await until(() => wire.closedWith, 'closed at its lifetime')
  assert.equal(wire.messages().filter((m) => m.type === 'ping').length, 0)
})

test('a silent bidirectional client is closed with idle_timeout; a one-way client is not, and is closed at its lifetime instead', async () => {
  const t = setup({ inactivityTimeoutMs: 60, maxLifetimeMs: 600 })
  const bidi = t.connect({ bidirectional: true })
  const oneWay = t.connect({ transport: 'sse', bidirectional: false })
  await until(() => bidi.wire.closedWith && oneWay.wire.closedWith, 'both closed')
  assert.equal(bidi.wire.closedWith, Disconnects.idle)
  assert.equal(oneWay.wire.closedWith, Disconnects.lifetime)
  assert.equal(t.core.clients.size, 0)
})

test('a client that keeps talking is not idle: it lives to its lifetime', async () => {
  // Talking every 20 ms against a 1 s inactivity limit: a margin no event-loop stall here reaches.
  const t = setup({ inactivityTimeoutMs: 1000, maxLifetimeMs: 1500 })
  const { wire, conn } = t.connect()
  const chatty = setInterval(() => conn.receive('{"command":"ping"}'), 20)
  try {
    await until(() => wire.closedWith, 'closed')
  } finally {
    clearInterval(chatty)
  }
  assert.equal(wire.closedWith, Disconnects.lifetime)
})

test('the session limit counts connections and held requests; a client over it is refused until one leaves', async () => {
  const t = setup({ maxSessions: 2 })
  const first = t.connect()
  assert.equal(t.core.canAccept(), true)
  t.connect()
  assert.equal(t.core.canAccept(), false)
  await assert.rejects(t.core.admit({ url: new URL('http://test/'), headers: {}, remoteAddress: '127.0.0.1' }),
    (err: any) => err.code === 'HERALD_ERR_TOO_MANY_SESSIONS')
  first.conn.disconnect(Disconnects.normal)
  assert.equal(t.core.canAccept(), true)
  t.core.clients.heldRequests++
  assert.equal(t.core.canAccept(), false, 'a held poll holds a socket too')
  t.core.clients.heldRequests--
})

test('connections are counted per transport', () => {
  const t = setup()
  t.connect({ transport: 'ws' })
  t.connect({ transport: 'ws' })
  t.connect({ transport: 'sse', bidirectional: false })
  assert.deepEqual(t.core.clients.countByTransport(), { ws: 2, sse: 1 })
  assert.equal(t.core.clients.size, 3)
})

test('shutdown ends every connection with server_restart (come back later)', () => {
  const t = setup()
  const wires = [t.connect().wire, t.connect({ transport: 'sse', bidirectional: false }).wire]
  t.core.shutdown()
  for (const w of wires) assert.equal(w.closedWith, Disconnects.shutdown)
  assert.equal(t.core.clients.size, 0)
})

// 0 means "never" for --inactivity-timeout and --max-lifetime: a limit set to 0 must not end a
// connection, even while the other limit is on.

test('--inactivity-timeout 0: a silent client is never idle; it is ended at its lifetime', async () => {
  const t = setup({ inactivityTimeoutMs: 0, maxLifetimeMs: 300 })
  const { wire } = t.connect({ bidirectional: true })
  await until(() => wire.closedWith, 'closed')
  assert.equal(wire.closedWith, Disconnects.lifetime)
})

test('--max-lifetime 0: a connection has no lifetime; a silent one is ended as idle', async () => {
  const t = setup({ inactivityTimeoutMs: 300, maxLifetimeMs: 0 })
  const { wire } = t.connect({ bidirectional: true })
  await until(() => wire.closedWith, 'closed')
  assert.equal(wire.closedWith, Disconnects.idle)
})
