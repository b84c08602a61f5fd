import assert from 'node:assert/strict'
import { afterEach, test } from 'node:test'
import { setImmediate as turn } from 'node:timers/promises'
import { signJwt } from '../../src/auth/jwt.js'
import { Disconnects } from '../../src/disconnect.js'
import { FakeWire } from '../support/fake-wire.js'
import { scriptedCore, type ScriptedCore } from '../support/scripted-core.js'

// The core's admission as a refused client and an operator see it, on FakeWires: the reason a
// client without a token reads, a WebSocket refused after its handshake, and Retry-After under a
// --rate-connections-per-ip below one a second.

const open: ScriptedCore[] = []
afterEach(async () => { for (const c of open.splice(0)) await c.close() })
const setup = (...args: Parameters<typeof scriptedCore>) => { const t = scriptedCore(...args); open.push(t); return t }
const jwt = { secret: 'a-secret-of-enough-length-for-hs256', publicKey: '', jwksUrl: '', audience: '', issuer: '', clockToleranceMs: 0 }

test('with a JWT secret, a client with no token is refused (401) naming where a token may come from', async () => {
  const t = setup({ jwt })
  await assert.rejects(t.core.admit(t.request()), (err: any) => {
    assert.equal(err.code, 'HERALD_ERR_UNAUTHORIZED')
    assert.equal(err.status, 401)
    assert.match(err.message, /no token \(X-JID header, jid parameter or jid\.<token> subprotocol\)/)
    return true
  })
})

test('a WebSocket whose token was refused hears disconnect unauthorized; operators see HERALD_ERR_UNAUTHORIZED with the session and transport', async () => {
  const t = setup({ jwt })
  const wire = new FakeWire()
  const conn = t.core.accept(wire, t.request(), 'signature invalid')
  await turn()
  assert.equal(wire.closedWith, Disconnects.unauthorized)
  assert.deepEqual(wire.messages().map((m) => [m.type, m.reason]), [['disconnect', 'unauthorized']])
  assert.deepEqual(t.seen.inputReject?.map((e) => [e.code, e.detail, e.context]), [['HERALD_ERR_UNAUTHORIZED', 'signature invalid', { sid: conn.sid, transport: 'ws' }]])
  assert.equal(t.core.clients.size, 0)
})

test('--rate-connections-per-ip 0.5: one new session, then wait 2 s (Retry-After) from that address', async () => {
  const t = setup({ rates: { connectionsPerIp: 0.5, commandsPerConnection: 0 } })
  const from = t.request()
  await t.core.admit(from)
  await assert.rejects(t.core.admit(from), (err: any) => {
    assert.equal(err.code, 'HERALD_ERR_RATE_LIMITED')
    assert.equal(err.retryAfterSec, 2)
    return true
  })
})

test('a token in Sec-WebSocket-Protocol is found after other entries and the spaces browsers put between them', async () => {
  const t = setup({ jwt })
  const token = signJwt({ sub: 'u1' }, jwt.secret)
  assert.equal(await t.core.authenticate(t.request(undefined, { 'sec-websocket-protocol': `actioncable-v1-ext-json, jid.${token}` })), undefined)
  assert.match(String(await t.core.authenticate(t.request(undefined, { 'sec-websocket-protocol': 'actioncable-v1-ext-json, jid.' }))), /no token/)
})
