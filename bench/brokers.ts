// Publish throughput of each broker on this machine: `npx tsx bench/brokers.ts [memory|redis|nats …]`
// (and part of `npm run bench -- cluster`).
// One stream (many publications in flight at once), then 1,000 streams round robin; with the
// round trips to the server per publication from the brokers' own counters. Uses the servers
// `npm test` uses (HERALD_TEST_REDIS_URL, HERALD_TEST_NATS_URL, else the usual loopback ports)
// under a prefix of its own, removed at the end.
import { pathToFileURL } from 'node:url'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { Redis } from 'ioredis'
import type { Broker } from '../src/broker/broker.js'
import { MemoryBroker } from '../src/broker/memory-broker.js'
import { NatsBroker } from '../src/broker/nats-broker.js'
import { RedisBroker } from '../src/broker/redis-broker.js'

const redisUrl = process.env.HERALD_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
const natsUrl = process.env.HERALD_TEST_NATS_URL ?? 'nats://127.0.0.1:4222'
const prefix = `bench${Date.now().toString(36)}`
const history = { historyLimit: 100, historyTtlMs: 300_000 }
const events = { message() {} }

const makers: Record<string, () => Broker> = {
  memory: () => new MemoryBroker(events, history),
  redis: () => new RedisBroker(events, { url: redisUrl, prefix: `${prefix}:`, historyMetaTtlMs: 600_000, ...history }),
  nats: () => new NatsBroker(events, { url: natsUrl, prefix, ...history }),
}

/** `total` publications, `inFlight` at a time, stream chosen by `streamOf`; publications per second. */
async function run(broker: Broker, total: number, inFlight: number, streamOf: (i: number) => string): Promise<number> {
  let next = 0
  const started = performance.now()
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < total) {
      const i = next++
      await broker.publish(streamOf(i), `{"i":${i}}`)
    }
  }))
  return total / ((performance.now() - started) / 1000)
}

/** Round trips so far, from the broker's counters (0 for memory). */
function roundTrips(broker: Broker): number {
  const c = (broker as { counters?: Record<string, number> }).counters ?? {}
  return (c.publishScripts ?? 0) + (c.publishes ?? 0) + (c.topReads ?? 0)
}

async function cleanup(): Promise<void> {
  const redis = new Redis(redisUrl)
  const keys = await redis.keys(`${prefix}:*`)
  for (let i = 0; i < keys.length; i += 1000) await redis.del(...keys.slice(i, i + 1000))
  await redis.quit()
  const nc = await connect({ servers: natsUrl })
  const jsm = await jetstreamManager(nc)
  for await (const name of jsm.streams.names()) if (name.startsWith(prefix)) await jsm.streams.delete(name)
  await nc.close()
}

export interface BrokerFigures {
  kind: string
  /** Publications per second: one stream, and 1,000 streams round robin. */
  oneStream: number
  manyStreams: number
  /** Round trips to the broker server per publication (0 for memory). */
  roundTripsOne: number
  roundTripsMany: number
}

/** Publish throughput and round trips of each broker kind, on this machine's servers. */
export async function measureBrokers(kinds: string[]): Promise<BrokerFigures[]> {
  const out: BrokerFigures[] = []
  try {
    for (const kind of kinds) {
      const broker = makers[kind]()
      await broker.start()
      const n = kind === 'memory' ? 200_000 : 10_000
      await run(broker, 1000, 64, () => 'warm')
      const before = roundTrips(broker)
      const oneStream = await run(broker, n, 64, () => 'one')
      const roundTripsOne = (roundTrips(broker) - before) / n
      const middle = roundTrips(broker)
      const manyStreams = await run(broker, n * 2, 256, (i) => `s${i % 1000}`)
      const roundTripsMany = (roundTrips(broker) - middle) / (n * 2)
      await broker.close()
      out.push({ kind, oneStream, manyStreams, roundTripsOne, roundTripsMany })
    }
  } finally {
    await cleanup()
  }
  return out
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const kinds = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(makers)
  console.log('broker   one stream (pub/s)   1,000 streams (pub/s)   round trips per publication (one / 1,000 new streams)')
  const rate = (r: number, width: number) => Math.round(r).toLocaleString('en').padStart(width)
  for (const f of await measureBrokers(kinds)) {
    console.log(`${f.kind.padEnd(8)} ${rate(f.oneStream, 18)}   ${rate(f.manyStreams, 21)}   ${f.roundTripsOne.toFixed(2).padStart(10)} / ${f.roundTripsMany.toFixed(2)}`)
  }
}
