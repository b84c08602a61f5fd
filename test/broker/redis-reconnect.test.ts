// The Redis broker when Redis drops ONE of its two connections (CLIENT KILL, as a proxy or an
// operator might): the node reports down, then up once both are ready again, subscribes every
// stream again and says so, and live delivery goes on. The broker restart tests drop both at once;
// these tell the subscriber connection and the commands connection apart. A Redis of the test's
// own (killing connections on the shared one would hit other tests).
import { Redis } from 'ioredis'
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { BrokerUnavailable, type BrokerState } from '../../src/broker/broker.js'
import { RedisBroker } from '../../src/broker/redis-broker.js'
import type { StreamMessage } from '../../src/protocol/messages.js'
import { until } from '../support/util.js'
import { ownRedis, type OwnServer } from './servers.js'

let server: OwnServer
let admin: Redis
before(async () => {
  server = await ownRedis()
  admin = new Redis(server.url)
})
after(async () => {
  await admin?.quit()
  await server?.close()
})

/** Kills Herald's connection named herald-<role> on the server. */
async function kill(role: string): Promise<void> {
  const list = (await admin.client('LIST')) as string
  const line = list.split('\n').find((l) => l.includes(` name=herald-${role} `))
  assert.ok(line, `herald-${role} connected`)
  await admin.client('KILL', 'ID', /\bid=(\d+)/.exec(line)![1])
}

test('one connection killed at a time: down, up again, resubscribed, delivery goes on', async () => {
  const states: [BrokerState, string | undefined][] = []
  const messages: StreamMessage[] = []
  let resubscribes = 0
  const broker = new RedisBroker({
    message: (m) => void messages.push(m),
    stateChanged: (state, detail) => void states.push([state, detail]),
    resubscribed: () => void resubscribes++,
  }, { url: server.url, prefix: 'herald-test:reconnect:', historyLimit: 10, historyTtlMs: 60_000, historyMetaTtlMs: 60_000 })
  try {
    assert.equal(broker.state, 'starting')
    await broker.start()
    await broker.subscribe('s')
    await broker.publish('s', '1')
    await until(() => messages.length === 1, 'the first message live')

    let round = 1
    for (const role of ['subscriber', 'commands']) {
      round++
      await kill(role)
      await until(() => resubscribes === round - 1 && broker.state === 'up', `up and resubscribed after herald-${role} was killed`)
      assert.deepEqual(states.slice(-2).map(([s]) => s), ['down', 'up'], `herald-${role}: down, then up`)
      const [, detail] = states.at(-2)!
      assert.ok(detail && detail.length > 0, 'the down state says why')
      const m = await broker.publish('s', String(round))
      await until(() => messages.length === round, `message ${round} live after herald-${role} came back`)
      assert.deepEqual(messages.at(-1), m)
    }
    assert.deepEqual(states.map(([s]) => s), ['up', 'down', 'up', 'down', 'up'])
  } finally {
    await broker.close()
  }
})

test('more than a thousand streams are all subscribed again after the subscriber connection drops', async () => {
  const messages: StreamMessage[] = []
  let resubscribes = 0
  const broker = new RedisBroker({ message: (m) => void messages.push(m), resubscribed: () => void resubscribes++ },
    { url: server.url, prefix: 'herald-test:many:', historyLimit: 10, historyTtlMs: 60_000, historyMetaTtlMs: 60_000 })
  try {
    await broker.start()
    const streams = Array.from({ length: 2100 }, (_, i) => `many-${i}`)
    await Promise.all(streams.map((s) => broker.subscribe(s)))
    await kill('subscriber')
    await until(() => resubscribes === 1 && broker.state === 'up', 'resubscribed')
    const last = streams.filter((_, i) => i % 500 === 499 || i === streams.length - 1)
    for (const s of last) await broker.publish(s, '1')
    await until(() => messages.length === last.length, `one message on each of ${last.join(', ')}`)
    assert.deepEqual(messages.map((m) => m.stream), last)
  } finally {
    await broker.close()
  }
})

test('a subscribe while Redis is down rejects and is forgotten: not counted, not subscribed when Redis is back', async () => {
  const messages: StreamMessage[] = []
  let resubscribes = 0
  const broker = new RedisBroker({ message: (m) => void messages.push(m), resubscribed: () => void resubscribes++ },
    { url: server.url, prefix: 'herald-test:down:', historyLimit: 10, historyTtlMs: 60_000, historyMetaTtlMs: 60_000 })
  try {
    await broker.start()
    await broker.subscribe('kept')
    await server.stop()
    await until(() => broker.state === 'down', 'down')
    await assert.rejects(broker.subscribe('while-down'), BrokerUnavailable)
    await assert.rejects(broker.publish('while-down', '1'), (err) => err instanceof BrokerUnavailable && err.cause instanceof Error
      && err.message === `redis: ${err.cause.message}` && err.cause.message.length > 0)
    assert.equal(broker.streamCount, 1)
    broker.unsubscribe('kept') // while down: nothing to send, not subscribed again later
    assert.equal(broker.streamCount, 0)
    await server.start({ wipe: false })
    admin.disconnect()
    admin = new Redis(server.url)
    await until(() => resubscribes === 1 && broker.state === 'up', 'up again')
    await broker.publish('while-down', '1')
    await broker.publish('kept', '1')
    await broker.subscribe('marker')
    const marker = await broker.publish('marker', '1')
    await until(() => messages.length > 0, 'the marker')
    assert.deepEqual(messages, [marker], 'only the stream subscribed after the restart is delivered')
  } finally {
    await broker.close()
  }
})
