import { Redis } from 'ioredis'
import { after } from 'node:test'
import type { BrokerEvents } from '../../src/broker/broker.js'
import { RedisBroker } from '../../src/broker/redis-broker.js'
import { runBrokerConformance, type ConformanceOptions } from './conformance.js'
import { ownRedis } from './servers.js'

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
