import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { startHerald, WireClient, type TestHerald } from '../support/herald.js'
import { until } from '../support/util.js'
import { publicId } from '../support/wire.js'

// docs/protocol.md, "History and positions": a subscription remembers the last position it
// delivered, so a message reaches a client once, whatever the client asks for afterwards. One
// Herald on loopback, extended-protocol WebSocket clients, a stream per test.

let h: TestHerald
before(async () => { h = await startHerald({ publicStreams: true }) })
after(() => h.close())

async function subscribed(stream: string): Promise<WireClient> {
  const c = await WireClient.connect(h.wsUrl)
  await c.waitForType('welcome')
  c.send({ command: 'subscribe', identifier: publicId(stream) })
  await c.waitForType('confirm_subscription')
  return c
}

const offsets = (c: WireClient, stream: string) => c.data(publicId(stream)).map((m) => m.offset)

test('a history request behind what the client already got replays none of it again', async () => {
  const stream = 'positions/behind'
  const c = await subscribed(stream)
  let epoch = ''
  for (let i = 1; i <= 5; i++) epoch = (await h.herald.publish(stream, { i })).epoch
  await c.waitFor((m) => m.offset === 5)
  // Three messages behind, then exactly one behind: the broker serves 3..5 and 5, all delivered already.
  for (const offset of [2, 4]) {
    c.send({ command: 'history', identifier: publicId(stream), history: { streams: { [stream]: { epoch, offset } } } })
  }
  await until(() => c.messages.filter((m) => m.type === 'confirm_history').length === 2, 'both history requests confirmed')
  // A live message after the replies: the outbox is in order, so anything replayed would be here by now.
  await h.herald.publish(stream, { i: 6 })
  await c.waitFor((m) => m.offset === 6)
  assert.deepEqual(offsets(c, stream), [1, 2, 3, 4, 5, 6], 'each message once, in order')
  c.close()
})

test('a subscribe with history since a time replays the messages kept from then, then goes live', async () => {
  const stream = 'positions/since'
  for (let i = 1; i <= 3; i++) await h.herald.publish(stream, { i })
  const c = await WireClient.connect(h.wsUrl)
  await c.waitForType('welcome')
  // `since` is Unix seconds: a minute ago covers every message above.
  c.send({ command: 'subscribe', identifier: publicId(stream), history: { since: Math.floor(Date.now() / 1000) - 60 } })
  await c.waitForType('confirm_history')
  await h.herald.publish(stream, { i: 4 })
  await c.waitFor((m) => m.offset === 4)
  assert.deepEqual(offsets(c, stream), [1, 2, 3, 4])
  assert.deepEqual(c.data(publicId(stream)).map((m) => m.message.i), [1, 2, 3, 4])
  c.close()
})

test('a session restored by the X-AnyCable-Restore-SID header holds its channel until the history request, which replays exactly what it missed', async () => {
  const stream = 'positions/restore'
  const first = await subscribed(stream)
  const { sid } = await first.waitForType('welcome')
  const { epoch } = await h.herald.publish(stream, { i: 1 })
  await first.waitFor((m) => m.offset === 1)
  first.ws.terminate() // the connection drops: no close frame
  await until(() => !h.herald.clients().some((c) => c.sid === sid), 'the server saw the drop')
  await h.herald.publish(stream, { i: 2 }) // while it is away
  const again = await WireClient.connect(h.wsUrl, 'actioncable-v1-ext-json', { headers: { 'x-anycable-restore-sid': sid } })
  const welcome = await again.waitForType('welcome')
  assert.deepEqual(welcome.restored_ids, [publicId(stream)])
  await h.herald.publish(stream, { i: 3 }) // live, held until the history request
  again.send({ command: 'history', identifier: publicId(stream), history: { streams: { [stream]: { epoch, offset: 1 } } } })
  await again.waitForType('confirm_history')
  await again.waitFor((m) => m.offset === 3)
  assert.deepEqual(offsets(again, stream), [2, 3], 'what it missed and what came meanwhile, each once')
  again.close()
})
