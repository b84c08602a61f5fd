import { Redis } from 'ioredis'
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { BrokerUnavailable, type BrokerEvents, type BrokerState } from '../../src/broker/broker.js'
import { RedisBroker } from '../../src/broker/redis-broker.js'
import { runBrokerConformance, type ConformanceOptions } from './conformance.js'
import { freePort, ownRedis } from './servers.js'

const url = process.env.HERALD_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

async function create(events: BrokerEvents, o: ConformanceOptions, serverUrl = url): Promise<RedisBroker> {
  const broker = new RedisBroker(events, {
    url: serverUrl, prefix: `herald-test:${o.space}:`,
    historyLimit: o.historyLimit, historyTtlMs: o.historyTtlMs, historyMetaTtlMs: 60_000,
  })
  await broker.start()
  return broker
}

const admin = new Redis(url, { lazyConnect: true })
after(() => admin.quit())

runBrokerConformance({
  name: 'redis',
  shared: true,
  create: (events, o) => create(events, o),
  async cleanup(space) {
    const keys = await admin.keys(`herald-test:${space}:*`)
    if (keys.length > 0) await admin.del(...keys)
  },
  async restartable() {
    const server = await ownRedis()
    return { ...server, create: (events, o) => create(events, o, server.url) }
  },
})

test('start() where no Redis answers rejects with BrokerUnavailable naming the address, the wait and the error, and leaves the broker closed', async () => {
  const dead = `redis://127.0.0.1:${await freePort()}`
  const states: BrokerState[] = []
  const broker = new RedisBroker({ message() {}, stateChanged: (s) => void states.push(s) }, {
    url: dead, prefix: 'herald-test:dead:', historyLimit: 1, historyTtlMs: 1000, historyMetaTtlMs: 1000, startTimeoutMs: 300,
  })
  await assert.rejects(broker.start(), (err) => err instanceof BrokerUnavailable
    && err.message.startsWith(`Redis at ${dead} did not answer within 300 ms: `) && /ECONNREFUSED/.test(err.message))
  assert.equal(broker.state, 'closed')
  assert.deepEqual(states, ['closed'])
})
