import { MemoryBroker } from '../../src/broker/memory-broker.js'
import { runBrokerConformance } from './conformance.js'

runBrokerConformance({
  name: 'memory',
  shared: false,
  create: async (events, { historyLimit, historyTtlMs }) => new MemoryBroker(events, { historyLimit, historyTtlMs }),
})
