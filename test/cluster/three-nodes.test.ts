// Three Herald nodes in this process on one network broker (Redis, then NATS JetStream), as a
// load balancer without sticky sessions would use them: clients spread over the nodes get every
// message once and in order whichever node published it; a long-poll session whose every poll
// lands on another node misses nothing; a WebSocket session dropped on one node is restored on
// another with exactly what it missed.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { startHerald, WireClient, type TestHerald } from '../support/herald.js'
import { broadcast, until } from '../support/util.js'
import { publicId, subscribeLine } from '../support/wire.js'
import { lpPost } from '../transport/http-clients.js'
import { BROKERS, runPrefix } from './brokers.js'

const SECRET = 'cluster-test-secret'

for (const broker of BROKERS) {
  describe(`three nodes on ${broker.name}`, () => {
    const prefix = runPrefix(broker.name.slice(0, 1))
    let nodes: TestHerald[] = []
    before(async () => {
      const config = { ...broker.config(prefix), publicStreams: true, streamsSecret: SECRET, pollFlushInterval: 0.02, pollInterval: 2 }
      nodes = await Promise.all([0, 1, 2].map(() => startHerald(config)))
    })
    after(async () => {
      await Promise.all(nodes.map((n) => n.close()))
      await broker.clean(prefix)
    })

    test('clients spread over the nodes receive every message exactly once, in order, whichever node published it', async () => {
      const stream = 'spread'
      const clients: WireClient[] = []
      for (const node of [...nodes, ...nodes]) {
        const c = await WireClient.connect(node.wsUrl)
        await c.waitForType('welcome')
        c.send({ command: 'subscribe', identifier: publicId(stream) })
        await c.waitForType('confirm_subscription')
        clients.push(c)
      }
      // 30 messages, published in batches of three through each node in turn.
      for (let n = 1; n <= 30; n += 3) {
        await broadcast(nodes[(n - 1) % 3].url, [n, n + 1, n + 2].map((i) => ({ stream, data: { i } })))
      }
      for (const c of clients) {
        await until(() => c.data().length >= 30, 'thirty messages on every client')
        assert.deepEqual(c.data().map((m) => m.message.i), Array.from({ length: 30 }, (_, k) => k + 1))
        assert.deepEqual(c.data().map((m) => m.offset), Array.from({ length: 30 }, (_, k) => k + 1))
        c.close()
      }
    })

    test('a long-poll session whose every poll lands on another node misses nothing and gets nothing twice', async () => {
      const stream = 'round-robin'
      const first = await lpPost(`${nodes[0].url}/lp`, { body: subscribeLine(publicId(stream)) })
      assert.equal(first.status, 200)
      const pollId = first.pollId!
      const got: number[] = []
      const take = (lines: any[]) => { for (const l of lines) if (l.message?.i !== undefined) got.push(l.message.i) }
      take(first.lines)
      let published = 0
      for (let round = 1; round <= 9; round++) {
        // Two messages published through some node between polls, then the next poll elsewhere.
        await broadcast(nodes[round % 3].url, [++published, ++published].map((i) => ({ stream, data: { i } })))
        const poll = await lpPost(`${nodes[round % 3 === 0 ? 1 : (round + 1) % 3].url}/lp`, { pollId })
        assert.equal(poll.status, 200, `poll ${round}: ${JSON.stringify(poll.lines)}`)
        take(poll.lines)
      }
      // What is still due arrives with the following polls, on any node.
      for (let i = 0; got.length < published && i < 10; i++) take((await lpPost(`${nodes[i % 3].url}/lp`, { pollId })).lines)
      assert.deepEqual(got, Array.from({ length: published }, (_, k) => k + 1))
    })

    test('a WebSocket session dropped on one node is restored on another: exactly the missed messages, then live ones', async () => {
      const stream = 'restore'
      const a = await WireClient.connect(nodes[0].wsUrl)
      const { sid } = await a.waitForType('welcome')
      a.send({ command: 'subscribe', identifier: publicId(stream), history: { since: 1 } })
      await a.waitForType('confirm_subscription')
      await broadcast(nodes[2].url, [1, 2, 3].map((i) => ({ stream, data: { i } })))
      await until(() => a.data().length === 3, 'three messages on node 0')
      const last = a.data().at(-1)
      a.ws.terminate() // the socket drops without a close frame
      await until(() => nodes[0].herald.clients().every((c) => c.sid !== sid), 'node 0 saw the drop')
      await broadcast(nodes[2].url, [4, 5].map((i) => ({ stream, data: { i } })))
      const b = await WireClient.connect(`${nodes[1].wsUrl}?sid=${encodeURIComponent(sid)}`)
      const welcome = await until(() => b.messages.find((m) => m.type === 'welcome'), 'welcome on node 1')
      assert.deepEqual(welcome.restored_ids, [publicId(stream)], 'restored on another node')
      b.send({ command: 'history', identifier: publicId(stream), history: { streams: { [stream]: { epoch: last.epoch, offset: last.offset } } } })
      await b.waitForType('confirm_history')
      await broadcast(nodes[0].url, { stream, data: { i: 6 } })
      await until(() => b.data().length === 3, 'the two missed messages and a live one')
      assert.deepEqual(b.data().map((m) => m.message.i), [4, 5, 6])
      b.close()
    })
  })
}
