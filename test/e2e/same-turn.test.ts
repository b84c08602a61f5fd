import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { publicIdentifier } from '../../src/protocol/identifier.js'
import { startHerald, WireClient, type TestHerald } from '../support/herald.js'
import { StreamReader } from '../transport/http-clients.js'

let h: TestHerald
before(async () => { h = await startHerald({ publicStreams: true }) })
after(() => h.close())

/** What each accepted socket of the server has been handed to write so far. */
function written(): Map<object, number> {
  const out = new Map<object, number>()
  for (const l of h.herald.listeners) for (const s of l.sockets) out.set(s, s.bytesWritten)
  return out
}

test('a broadcast reaching idle outboxes is written to the sockets in the same turn (WebSocket and SSE); a burst in one turn keeps its order', async () => {
  const stream = 'same-turn'
  const identifier = publicIdentifier(stream)
  const ws = await WireClient.connect(h.wsUrl)
  await ws.waitForType('welcome')
  ws.send({ command: 'subscribe', identifier })
  await ws.waitForType('confirm_subscription')
  const sse = await StreamReader.sse(`${h.url}/events?stream=${stream}`)
  await sse.waitFor(() => h.herald.hub.subscriberCount(stream) === 2, 'both subscribed')
  // Let any reply still batched from the subscriptions go out first.
  await new Promise((resolve) => setTimeout(resolve, 50))

  const before = written()
  const published = h.herald.hub.publish(stream, { n: 1 })
  // Only microtasks from here: a write left for the batching turn (setImmediate) has not happened yet.
  await published
  const after = written()
  const grew = [...after].filter(([s, n]) => n > (before.get(s) ?? 0)).length
  assert.equal(grew, 2, 'both subscribers\' sockets were written before the event loop turned')

  const m1 = await ws.waitFor((m) => m.message?.n === 1)
  assert.equal(m1.offset, 1)
  await sse.waitFor(() => sse.data.length === 1, 'the SSE message')
  assert.deepEqual(sse.data[0], { n: 1 })

  // Three broadcasts in one turn: the first goes at once, the other two are batched; all in order.
  await Promise.all([h.herald.hub.publish(stream, { n: 2 }), h.herald.hub.publish(stream, { n: 3 }), h.herald.hub.publish(stream, { n: 4 })])
  await ws.waitFor((m) => m.message?.n === 4)
  assert.deepEqual(ws.data(identifier).map((m) => m.message.n), [1, 2, 3, 4])
  await sse.waitFor(() => sse.data.length === 4, 'four SSE messages')
  assert.deepEqual(sse.data.map((d) => d.n), [1, 2, 3, 4])
  ws.close()
  sse.destroy()
})
