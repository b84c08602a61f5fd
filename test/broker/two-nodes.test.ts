// End to end on a network broker: two Herald nodes in this process share one Redis (or one
// NATS); a WebSocket client on each node receives what the other node's POST /_broadcast
// published, in order, with dense offsets. On Redis, also the broker going away under them.
import { Redis } from 'ioredis'
import assert from 'node:assert/strict'
import { after, describe, test } from 'node:test'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import type { HeraldConfigInput } from '../../src/config/schema.js'
import { publicIdentifier } from '../../src/protocol/identifier.js'
import { startHerald, WireClient, type TestHerald } from '../support/herald.js'
import { broadcast, postJson, until } from '../support/util.js'
import { ownRedis } from './servers.js'

const redisUrl = process.env.HERALD_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
const natsUrl = process.env.HERALD_TEST_NATS_URL ?? 'nats://127.0.0.1:4222'
const RUN = `e2e${process.pid.toString(36)}${Date.now().toString(36)}`

async function nodes(config: HeraldConfigInput): Promise<[TestHerald, TestHerald]> {
  const common = { publicStreams: true, ...config }
  return [await startHerald(common), await startHerald(common)]
}

async function subscribed(h: TestHerald, stream: string): Promise<WireClient> {
  const c = await WireClient.connect(h.wsUrl)
  await c.waitForType('welcome')
  c.send({ command: 'subscribe', identifier: publicIdentifier(stream) })
  await c.waitForType('confirm_subscription')
  return c
}

/** Publishes 1..n through `via` in two batches and one single; every client gets all in order. */
async function crossDelivery(a: TestHerald, b: TestHerald, stream: string): Promise<void> {
  const onA = await subscribed(a, stream)
  const onB = await subscribed(b, stream)
  const sent = [
    ...await broadcast(b.url, [1, 2, 3, 4, 5].map((n) => ({ stream, data: { n } }))),
    ...await broadcast(a.url, { stream, data: { n: 6 } }),
    ...await broadcast(b.url, [7, 8, 9, 10].map((n) => ({ stream, data: { n } }))),
  ]
  assert.deepEqual(sent.map((p) => p.offset), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
  for (const c of [onA, onB]) {
    await until(() => c.data().length === 10, 'ten messages on each node')
    const got = c.data()
    assert.deepEqual(got.map((m) => m.message.n), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    assert.deepEqual(got.map((m) => m.offset), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    assert.equal(new Set(got.map((m) => m.epoch)).size, 1)
    c.close()
  }
}

describe('two Herald nodes on Redis', () => {
  const prefix = `${RUN}r`
  after(async () => {
    const admin = new Redis(redisUrl)
    const keys = await admin.keys(`${prefix}*`)
    if (keys.length > 0) await admin.del(...keys)
    await admin.quit()
  })

  test('a broadcast on B reaches a WebSocket client on A, in order, with dense offsets', async () => {
    const [a, b] = await nodes({ broker: 'redis', redisUrl, brokerPrefix: prefix })
    try {
      await crossDelivery(a, b, 'news')
    } finally {
      await a.close()
      await b.close()
    }
  })

  test('sessions live in Redis: restorable on the other node while the client is still connected (a node killed outright saved nothing), and not after an end that says not to come back', async () => {
    const [a, b] = await nodes({ broker: 'redis', redisUrl, brokerPrefix: prefix })
    try {
      const kept = await subscribed(a, 'sessions/kept')
      const { sid: keptSid } = await kept.waitForType('welcome')
      const moved = await WireClient.connect(`${b.wsUrl}?sid=${encodeURIComponent(keptSid)}`)
      assert.deepEqual((await moved.waitForType('welcome')).restored_ids, [publicIdentifier('sessions/kept')], 'restored on B from what A keeps while the client lives')
      const ended = await subscribed(a, 'sessions/ended')
      const { sid: endedSid } = await ended.waitForType('welcome')
      ended.send('not json') // invalid_command: reconnect false
      assert.deepEqual(await ended.waitForType('disconnect'), { type: 'disconnect', reason: 'invalid_command', reconnect: false })
      await ended.closed()
      await until(() => !a.herald.clients().some((c) => c.sid === endedSid), 'A saw the end')
      const fresh = await WireClient.connect(`${b.wsUrl}?sid=${encodeURIComponent(endedSid)}`)
      const welcome = await fresh.waitForType('welcome')
      assert.equal(welcome.restored, undefined, 'a fresh session on B, not a restore')
      for (const c of [kept, moved, fresh]) c.close()
    } finally {
      await a.close()
      await b.close()
    }
  })

  test('Redis away: POST /_broadcast answers 503 HERALD_ERR_BROKER_UNAVAILABLE, clients stay; when it returns, delivery goes on', async () => {
    const redis = await ownRedis()
    const [a, b] = await nodes({ broker: 'redis', redisUrl: redis.url, brokerPrefix: prefix })
    try {
      const c = await subscribed(a, 'live')
      await broadcast(b.url, { stream: 'live', data: 1 })
      await until(() => c.data().length === 1, 'the first message')
      await redis.stop()
      await until(() => b.herald.hub.broker.state === 'down' && a.herald.hub.broker.state === 'down', 'both nodes see Redis down')
      const refused = await postJson(`${b.url}/_broadcast`, { stream: 'live', data: 2 })
      assert.equal(refused.status, 503)
      assert.match(JSON.stringify(refused.body), /HERALD_ERR_BROKER_UNAVAILABLE/)
      await redis.start({ wipe: false })
      await until(() => a.herald.hub.broker.state === 'up' && b.herald.hub.broker.state === 'up', 'both nodes up again', 20_000)
      assert.equal(c.closeCode, undefined, 'the client stayed connected')
      await broadcast(b.url, { stream: 'live', data: 3 })
      await until(() => c.data().length === 2, 'delivery after the restart', 10_000)
      assert.deepEqual(c.data().map((m) => [m.message, m.offset]), [[1, 1], [3, 2]])
      c.close()
    } finally {
      await a.close()
      await b.close()
      await redis.close()
    }
  })
})

describe('one Herald node on Redis that loses its data', () => {
  test('an extended client hears reject_history for a stream whose history went with Redis, and goes on in the new epoch', async () => {
    const redis = await ownRedis()
    const h = await startHerald({ publicStreams: true, broker: 'redis', redisUrl: redis.url, brokerPrefix: `${RUN}w` })
    try {
      const c = await subscribed(h, 'wiped')
      const [first] = await broadcast(h.url, { stream: 'wiped', data: 1 })
      await until(() => c.data().length === 1, 'the first message')
      await redis.stop()
      await until(() => h.herald.hub.broker.state === 'down', 'the node sees Redis down')
      await redis.start({ wipe: true })
      await c.waitForType('reject_history', 20_000)
      const [next] = await broadcast(h.url, { stream: 'wiped', data: 2 })
      assert.notEqual(next.epoch, first.epoch)
      await until(() => c.data().length === 2, 'the message in the new epoch')
      assert.deepEqual(c.data().map((m) => [m.message, m.offset, m.epoch]), [[1, 1, first.epoch], [2, 1, next.epoch]])
      assert.equal(c.closeCode, undefined, 'the client stayed connected')
      c.close()
    } finally {
      await h.close()
      await redis.close()
    }
  })
})

describe('two Herald nodes on NATS JetStream', () => {
  const prefix = `${RUN}n`
  after(async () => {
    const nc = await connect({ servers: natsUrl })
    const jsm = await jetstreamManager(nc)
    for await (const name of jsm.streams.names()) if (name.includes(prefix)) await jsm.streams.delete(name)
    await nc.close()
  })

  test('a broadcast on B reaches a WebSocket client on A, in order, with dense offsets', async () => {
    const [a, b] = await nodes({ broker: 'nats', natsUrl, brokerPrefix: prefix })
    try {
      await crossDelivery(a, b, 'news')
    } finally {
      await a.close()
      await b.close()
    }
  })
})
