import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { startHerald, WireClient, type TestHerald } from '../support/herald.js'
import { until } from '../support/util.js'
import { jwt, publicId } from '../support/wire.js'

// What a client's commands do on one connection (docs/protocol.md): the subscription limit, the
// command rate limit, ping, commands standalone streams ignore, unsubscribe, and the token in a
// `jid.<token>` subprotocol. One Herald on loopback, WebSocket clients speaking the wire.

const SECRET = 'client-commands-secret'
let h: TestHerald
before(async () => {
  h = await startHerald({ publicStreams: true, maxSubscriptions: 2, rateCommandsPerConnection: 20, jwtSecret: SECRET })
})
after(() => h.close())

const token = () => jwt({ sub: 'u1', exp: Math.floor(Date.now() / 1000) + 60 }, SECRET)

async function client(): Promise<WireClient> {
  const c = await WireClient.connect(`${h.wsUrl}?jid=${token()}`)
  await c.waitForType('welcome')
  return c
}

const ofType = (c: WireClient, type: string) => c.messages.filter((m) => m.type === type)

test('--max-subscriptions: the one over the limit is refused with the reason; a duplicate does not count; an unsubscribe frees a place', async () => {
  const c = await client()
  for (const s of ['limit/a', 'limit/b']) {
    c.send({ command: 'subscribe', identifier: publicId(s) })
    await c.waitFor((m) => m.type === 'confirm_subscription' && m.identifier === publicId(s))
  }
  c.send({ command: 'subscribe', identifier: publicId('limit/b') }) // already held: ignored, as in AnyCable
  c.send({ command: 'subscribe', identifier: publicId('limit/c') })
  const refused = await c.waitForType('reject_subscription')
  assert.deepEqual(refused, {
    type: 'reject_subscription', identifier: publicId('limit/c'),
    reason: 'this connection holds 2 subscriptions already (--max-subscriptions)',
  })
  c.send({ command: 'unsubscribe', identifier: publicId('limit/a') })
  c.send({ command: 'subscribe', identifier: publicId('limit/c') })
  await c.waitFor((m) => m.type === 'confirm_subscription' && m.identifier === publicId('limit/c'))
  assert.equal(ofType(c, 'reject_subscription').length, 1, 'only the one over the limit was refused')
  assert.deepEqual(h.herald.clients().find((x) => x.identifiers.length > 0)?.identifiers.sort(), [publicId('limit/b'), publicId('limit/c')])
  // Unsubscribed: limit/a's messages no longer come; limit/c's do.
  await h.herald.publish('limit/a', 'gone')
  await h.herald.publish('limit/c', 'here')
  await c.waitFor((m) => m.message === 'here')
  assert.deepEqual(c.data().map((m) => m.message), ['here'])
  c.close()
})

test('ping gets pong; message and whisper on a standalone stream are ignored and the connection stays', async () => {
  const c = await client()
  c.send({ command: 'subscribe', identifier: publicId('cmd/s') })
  await c.waitForType('confirm_subscription')
  c.send({ command: 'message', identifier: publicId('cmd/s'), data: JSON.stringify({ action: 'speak' }) })
  c.send({ command: 'whisper', identifier: publicId('cmd/s'), data: JSON.stringify({ typing: true }) })
  c.send({ command: 'pong' })
  c.send({ command: 'ping' })
  await c.waitForType('pong')
  await h.herald.publish('cmd/s', 'still subscribed')
  await c.waitFor((m) => m.message === 'still subscribed')
  assert.equal(c.closeCode, undefined)
  assert.deepEqual(ofType(c, 'disconnect'), [])
  c.close()
})

test('--rate-commands-per-connection: a client over it is disconnected rate_limited (reconnect allowed), close 1008', async () => {
  const c = await client()
  // The bucket holds twice the rate (40): 100 at once are over it whatever the clock does.
  for (let i = 0; i < 100; i++) c.send({ command: 'ping' })
  const { code } = await c.closed(10_000)
  assert.equal(code, 1008)
  assert.deepEqual(ofType(c, 'disconnect'), [{ type: 'disconnect', reason: 'rate_limited', reconnect: true }])
  assert.ok(ofType(c, 'pong').length >= 1 && ofType(c, 'pong').length < 100, 'the pings under the limit were answered')
})

test('the token may come as a jid.<token> subprotocol (browsers cannot set headers); a bare jid. is no token', async () => {
  const ok = await WireClient.connect(h.wsUrl, ['actioncable-v1-ext-json', `jid.${token()}`])
  await ok.waitForType('welcome')
  assert.equal(ok.ws.protocol, 'actioncable-v1-ext-json', 'the protocol, not the token, is chosen')
  ok.close()
  const bare = await WireClient.connect(h.wsUrl, ['actioncable-v1-ext-json', 'jid.'])
  assert.deepEqual(await bare.waitForType('disconnect'), { type: 'disconnect', reason: 'unauthorized', reconnect: false })
  await bare.closed()
  await until(() => h.herald.stats().connections.total === 0, 'both gone')
})
