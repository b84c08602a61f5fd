import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { setImmediate as turn } from 'node:timers/promises'
import { publicIdentifier } from '../../src/protocol/identifier.js'
import { startHerald, WireClient, type TestHerald } from '../support/herald.js'
import { TcpRelay } from '../support/relay.js'
import { metric, until } from '../support/util.js'

let h: TestHerald
before(async () => { h = await startHerald({ publicStreams: true, outboxBytes: 64 * 1024, pingInterval: 0 }) })
after(() => h.close())

test('a reader that stops reading is disconnected too_slow; other subscribers get every message in order', async () => {
  const stream = 'firehose'
  const identifier = publicIdentifier(stream)
  const subscribe = async (url: string) => {
    const c = await WireClient.connect(url)
    const { sid } = await c.waitForType('welcome')
    c.send({ command: 'subscribe', identifier })
    await c.waitForType('confirm_subscription')
    return { c, sid: sid as string }
  }
  const normal = await subscribe(h.wsUrl)
  // Through a relay that stops reading: the kernel buffers fill, then the server's outbox does.
  const relay = await TcpRelay.to(h.url)
  after(() => relay.close())
  const slow = await subscribe(`${relay.url.replace(/^http/, 'ws')}/cable`)
  relay.stall()

  const slowOnServer = () => h.herald.clients().some((client) => client.sid === slow.sid)
  const pad = 'x'.repeat(1000)
  let published = 0
  // Loopback buffers several MiB before Node sees backpressure, so keep publishing (a batch per
  // event-loop turn, as a real publisher would) until the server gives up on the slow reader.
  while (slowOnServer() && published < 60_000) {
    for (let i = 0; i < 20; i++) await h.herald.publish(stream, { i: ++published, pad })
    await turn()
  }
  assert.equal(slowOnServer(), false, `still connected after ${published} messages`)
  for (let i = 0; i < 5; i++) {
    for (let j = 0; j < 20; j++) await h.herald.publish(stream, { i: ++published, pad })
    await turn()
  }

  await until(() => normal.c.data(identifier).length >= published, `the normal reader's ${published} messages`, 30_000)
  const got = normal.c.data(identifier)
  assert.equal(got.length, published)
  got.forEach((m, i) => {
    assert.equal(m.offset, i + 1)
    assert.equal(m.message.i, i + 1)
  })
  assert.equal(normal.c.ws.readyState, normal.c.ws.OPEN)

  assert.equal(await metric(h.url, 'herald_disconnects_total', { reason: 'too_slow' }), 1)
  assert.equal(await metric(h.url, 'herald_errors_total', { code: 'HERALD_ERR_TOO_SLOW' }), 1)
  // The server dropped the socket without a close handshake: once the client reads again it sees the end.
  relay.resume()
  assert.equal((await slow.c.closed(10_000)).code, 1006)
  assert.ok(slow.c.data(identifier).length < published, 'the slow reader did not get everything')
  normal.c.close()
})

test('a burst bigger than the budget within one turn does not disconnect a reader that keeps up', async () => {
  const stream = 'burst'
  const identifier = publicIdentifier(stream)
  const c = await WireClient.connect(h.wsUrl)
  await c.waitForType('welcome')
  c.send({ command: 'subscribe', identifier })
  await c.waitForType('confirm_subscription')
  const before = await metric(h.url, 'herald_disconnects_total', { reason: 'too_slow' })
  // 256 KiB in one synchronous burst (as one big /_broadcast array would publish it) against a 64 KiB budget.
  const pad = 'y'.repeat(1000)
  for (let i = 1; i <= 256; i++) await h.herald.publish(stream, { i, pad })
  await until(() => c.data(identifier).length >= 256 || c.closeCode !== undefined, 'the burst')
  assert.equal(c.closeCode, undefined, `disconnected: ${JSON.stringify(c.messages.filter((m) => m.type === 'disconnect'))}`)
  assert.deepEqual(c.data(identifier).map((m) => m.message.i), Array.from({ length: 256 }, (_, i) => i + 1))
  assert.equal(await metric(h.url, 'herald_disconnects_total', { reason: 'too_slow' }), before)
  c.close()
})
