import type { HeraldConfig } from '../config/schema.js'
import type { Broker, BrokerEvents } from './broker.js'
import { MemoryBroker } from './memory-broker.js'
import { NatsBroker } from './nats-broker.js'
import { RedisBroker } from './redis-broker.js'

/** The broker `--broker` names, with its options converted from the configuration's seconds. */
export function createBroker(events: BrokerEvents, config: Readonly<HeraldConfig>): Broker {
  const historyLimit = config.historyLimit
  const historyTtlMs = config.historyTtl * 1000
  switch (config.broker) {
    case 'redis':
      return new RedisBroker(events, {
        url: config.redisUrl || 'redis://127.0.0.1:6379',
        prefix: `${config.brokerPrefix}:`,
        historyLimit,
        historyTtlMs,
        historyMetaTtlMs: config.historyMetaTtl * 1000,
      })
    case 'nats':
      return new NatsBroker(events, {
        url: config.natsUrl || 'nats://127.0.0.1:4222',
        prefix: config.brokerPrefix,
        historyLimit,
        historyTtlMs,
        replicas: config.natsReplicas,
      })
    default:
      return new MemoryBroker(events, { historyLimit, historyTtlMs })
  }
}
