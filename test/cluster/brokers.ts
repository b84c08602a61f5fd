// The network brokers the cluster tests run on, each with a prefix of its own for this run, and
// the clean-up of what the run left in them.
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { Redis } from 'ioredis'
import type { HeraldConfigInput } from '../../src/config/schema.js'

export const redisUrl = process.env.HERALD_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
export const natsUrl = process.env.HERALD_TEST_NATS_URL ?? 'nats://127.0.0.1:4222'

export interface ClusterBroker {
  name: 'redis' | 'nats'
  /** Options for a node on this broker, under `prefix`. */
  config(prefix: string): HeraldConfigInput
  /** Removes everything stored under `prefix`. */
  clean(prefix: string): Promise<void>
}

export const BROKERS: ClusterBroker[] = [
  {
    name: 'redis',
    config: (prefix) => ({ broker: 'redis', redisUrl, brokerPrefix: prefix }),
    async clean(prefix) {
      const admin = new Redis(redisUrl)
      const keys = await admin.keys(`${prefix}*`)
      if (keys.length > 0) await admin.del(...keys)
      await admin.quit()
    },
  },
  {
    name: 'nats',
    config: (prefix) => ({ broker: 'nats', natsUrl, brokerPrefix: prefix }),
    async clean(prefix) {
      const nc = await connect({ servers: natsUrl })
      const jsm = await jetstreamManager(nc)
      for await (const name of jsm.streams.names()) if (name.toLowerCase().includes(prefix.toLowerCase())) await jsm.streams.delete(name)
      await nc.close()
    },
  },
]

/** A prefix unique to this process and moment (NATS names allow letters and digits). */
export function runPrefix(tag: string): string {
  return `c${tag}${process.pid.toString(36)}${Date.now().toString(36)}`
}
