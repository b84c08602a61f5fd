import type { BrokerEvents } from '../../src/broker/broker.js'
import { MemoryBroker } from '../../src/broker/memory-broker.js'
import { Core, type CoreOptions } from '../../src/core/core.js'
import type { StreamHooks } from '../../src/core/stream-hooks.js'
import type { WireInfo, WireRequest } from '../../src/core/wire.js'
import { Hub } from '../../src/hub/hub.js'
import { Diagnostics } from '../../src/observability/diagnostics.js'
import type { StreamMessage } from '../../src/protocol/messages.js'
import { FakeWire } from './fake-wire.js'

export interface TestCore {
  core: Core
  hub: Hub
  broker: MemoryBroker
  /** Offsets the broker appends but does not deliver (a network broker's lost pub/sub messages). */
  drop: Set<number>
  /** The events the hub handed its broker: a test plays the broker's reconnect with `resubscribed()`. */
  brokerEvents: BrokerEvents
  /** A client on a FakeWire; `url` may carry `?sid=` for a restore. */
  connect(info?: Partial<WireInfo>, url?: string): { wire: FakeWire; conn: ReturnType<Core['accept']> }
  close(): Promise<void>
}

/** The options of every test core: small budgets, no timers, public streams, a fixed secret. */
export const TEST_CORE_OPTIONS: CoreOptions = {
  outboxBytes: 1 << 20, sessionsTtlMs: 60_000, sessionsMaxEntries: 1000, sessionsMaxBytes: 1 << 20, pingIntervalMs: 0, inactivityTimeoutMs: 0, maxLifetimeMs: 0,
  maxSessions: 100, publicStreams: true, streamsSecret: 'secret', jwt: { secret: '', publicKey: '', jwksUrl: '', audience: '', issuer: '', clockToleranceMs: 0 }, maxSubscriptions: 100,
  commandLimits: { maxDepth: 64, maxIdentifierLength: 4096 },
}

/** A node's core on a real memory broker, with wires that record what a client would get. */
export function testCore(options: Partial<CoreOptions> = {}, hooks?: StreamHooks): TestCore {
  const drop = new Set<number>()
  const diagnostics = new Diagnostics()
  let broker!: MemoryBroker
  let brokerEvents!: BrokerEvents
  const hub = new Hub((events: BrokerEvents) => {
    brokerEvents = events
    broker = new MemoryBroker({ ...events, message: (m: StreamMessage) => { if (!drop.has(m.offset)) events.message(m) } }, { historyLimit: 100, historyTtlMs: 60_000 })
    return broker
  }, diagnostics)
  const core = new Core(hub, { ...TEST_CORE_OPTIONS, ...options }, diagnostics)
  if (hooks) core.addHooks(hooks)
  return {
    core, hub, broker, drop, brokerEvents,
    connect(info = {}, url = 'http://test/cable') {
      const wire = new FakeWire(info)
      const request: WireRequest = { url: new URL(url), headers: {}, remoteAddress: '127.0.0.1' }
      return { wire, conn: core.accept(wire, request) }
    },
    async close() {
      core.shutdown()
      await broker.close()
    },
  }
}
