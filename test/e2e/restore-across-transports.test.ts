import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { publicIdentifier } from '../../src/protocol/identifier.js'
import { startHerald, WireClient, type TestHerald } from '../support/herald.js'
import { broadcast } from '../support/util.js'
import { lpPost } from '../transport/http-clients.js'

// A client whose WebSocket is blocked or drops falls back to long polling and keeps its session:
// the first POST /lp with ?sid= restores the WebSocket's subscriptions, and a history request
// with its last position returns exactly what it missed (the sessions cache is transport-agnostic).
let h: TestHerald
before(async () => { h = await startHerald({ publicStreams: true, pollFlushInterval: 0 }) })
after(() => h.close())

test('a WebSocket session dropped mid-stream is restored over long polling with ?sid=, nothing lost or repeated', async () => {
  const stream = 'fallback'
  const identifier = publicIdentifier(stream)
  const ws = await WireClient.connect(h.wsUrl)
  const { sid } = await ws.waitForType('welcome')
  ws.send({ command: 'subscribe', identifier })
  await ws.waitForType('confirm_subscription')
  await broadcast(h.url, [1, 2, 3].map((n) => ({ stream, data: JSON.stringify({ n }) })))
  const third = await ws.waitFor((m) => m.offset === 3)
  ws.ws.terminate() // unclean drop: no close frame
  await ws.closed()

  await broadcast(h.url, [4, 5].map((n) => ({ stream, data: JSON.stringify({ n }) })))
  const open = await lpPost(`${h.url}/lp?sid=${encodeURIComponent(sid)}`)
  assert.equal(open.status, 200)
  assert.ok(open.pollId)
  const welcome = open.lines.find((l) => l.type === 'welcome')
  assert.equal(welcome.restored, true)
  assert.deepEqual(welcome.restored_ids, [identifier])

  const history = JSON.stringify({ command: 'history', identifier, history: { streams: { [stream]: { epoch: third.epoch, offset: 3 } } } })
  const got: any[] = []
  for (let i = 0; i < 10 && !got.some((l) => l.type === 'confirm_history'); i++) {
    const poll = await lpPost(`${h.url}/lp`, { pollId: open.pollId, body: i === 0 ? history : '' })
    assert.equal(poll.status, 200)
    got.push(...poll.lines)
  }
  await broadcast(h.url, { stream, data: JSON.stringify({ n: 6 }) })
  const live = await lpPost(`${h.url}/lp`, { pollId: open.pollId })
  got.push(...live.lines)
  const data = got.filter((l) => l.identifier === identifier && l.message)
  assert.deepEqual(data.map((l) => l.message.n), [4, 5, 6])
  assert.deepEqual(data.map((l) => l.offset), [4, 5, 6])
})
