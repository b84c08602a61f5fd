import dc from 'node:diagnostics_channel'
import type { Broker, BrokerEvents, BrokerState, History, HistoryQuery, KeyValueStore, Publication } from '../../src/broker/broker.js'
import { MemoryBroker } from '../../src/broker/memory-broker.js'
import { Core, type CoreOptions } from '../../src/core/core.js'
import type { StreamHooks } from '../../src/core/stream-hooks.js'
import type { WireInfo, WireRequest } from '../../src/core/wire.js'
import { Hub } from '../../src/hub/hub.js'
import { channels, Diagnostics } from '../../src/observability/diagnostics.js'
import type { StreamMessage } from '../../src/protocol/messages.js'
import { TEST_CORE_OPTIONS } from './core.js'
import { FakeWire } from './fake-wire.js'

/**
 * A broker that behaves as a network broker can, on cue: the Broker contract over a memory
 * broker, where a test decides when a stream's subscribe completes or fails, makes a history
 * read fail or answer from a stream that lost its data, and drops live messages on the way
 * (pub/sub is at most once). Its `kind` is not `memory`, so sessions are kept while they live,
 * as with Redis or NATS.
 */
export class ScriptedBroker implements Broker {
  readonly kind = 'scripted'
  readonly inner: MemoryBroker
  /** While set, `subscribe` answers with this promise (a SUBSCRIBE round trip) instead of at once. */
  subscribeWith: Promise<void> | undefined
  /** While set, every history read runs this first; it may throw, or answer instead of the memory broker. */
  historyWith: ((stream: string, query: HistoryQuery) => Promise<History | undefined>) | undefined
  /** Offsets appended but not delivered live. */
  readonly drop = new Set<number>()
  /**
   * Streams whose subscribe is still under way (`subscribeWith` pending) get no live messages
   * when this is set, as with a real network broker; by default they get them at once.
   */
  liveOnlyWhenReady = false
  private readonly pending = new Set<string>()
  /** Each history query asked, in order. */
  readonly queries: { stream: string; query: HistoryQuery }[] = []

  constructor(events: BrokerEvents) {
    this.inner = new MemoryBroker({ ...events, message: (m: StreamMessage) => { if (!this.drop.has(m.offset) && !this.pending.has(m.stream)) events.message(m) } }, { historyLimit: 100, historyTtlMs: 60_000 })
  }

  get state(): BrokerState { return this.inner.state }
  start(): Promise<void> { return this.inner.start() }
  publish(stream: string, data: string): Promise<StreamMessage> { return this.inner.publish(stream, data) }
  publishBatch(publications: readonly Publication[]): StreamMessage[] { return this.inner.publishBatch(publications) }
  async history(stream: string, query: HistoryQuery = {}): Promise<History> {
    this.queries.push({ stream, query })
    const scripted = await this.historyWith?.(stream, query)
    return scripted ?? this.inner.history(stream, query)
  }
  subscribe(stream: string): Promise<void> | undefined {
    this.inner.subscribe(stream)
    const ready = this.subscribeWith
    if (ready && this.liveOnlyWhenReady) {
      this.pending.add(stream)
      ready.then(() => this.pending.delete(stream), () => this.pending.delete(stream))
    }
    return ready
  }
  unsubscribe(stream: string): void { this.inner.unsubscribe(stream) }
  /** While set, every store operation rejects with it (the network broker's store is unreachable). */
  storeFailure: Error | undefined
  /** Every store operation asked, as `op key`, in order. */
  readonly storeOps: string[] = []
  /** Each store asked for: its namespace (a key prefix in Redis or a NATS KV bucket), TTL and limits. */
  readonly stores: { namespace: string; ttlMs: number; limits?: { maxEntries?: number; maxBytes?: number } }[] = []
  store(namespace: string, ttlMs: number, limits?: { maxEntries?: number; maxBytes?: number }): KeyValueStore {
    this.stores.push({ namespace, ttlMs, limits })
    const inner = this.inner.store(namespace, ttlMs, limits)
    const run = async <T>(op: string, key: string, fn: () => Promise<T>): Promise<T> => {
      this.storeOps.push(`${op} ${key}`)
      if (this.storeFailure) throw this.storeFailure
      return fn()
    }
    return {
      get: (key) => run('get', key, () => inner.get(key)),
      set: (key, value) => run('set', key, () => inner.set(key, value)),
      take: (key) => run('take', key, () => inner.take(key)),
      delete: (key) => run('delete', key, () => inner.delete(key)),
      get size() { return inner.size },
      get evicted() { return inner.evicted },
    }
  }
  notify(topic: string, payload: string): Promise<void> { return this.inner.notify(topic, payload) }
  close(): Promise<void> { return this.inner.close() }
}

/** A promise and its two ends, for a step a test completes when it chooses. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void
  let reject!: (e: unknown) => void
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej })
  promise.catch(() => {}) // observed: a test may reject it before anyone awaits
  return { promise, resolve, reject }
}

export interface ScriptedCore {
  core: Core
  hub: Hub
  broker: ScriptedBroker
  brokerEvents: BrokerEvents
  /** What this core told operators (its diagnostics channels), by channel name, in order. */
  seen: Record<string, any[]>
  request(url?: string, headers?: WireRequest['headers']): WireRequest
  connect(info?: Partial<WireInfo>, url?: string, headers?: WireRequest['headers']): { wire: FakeWire; conn: ReturnType<Core['accept']> }
  close(): Promise<void>
}

/** A node's core on a ScriptedBroker, with wires that record what a client would get. */
export function scriptedCore(options: Partial<CoreOptions> = {}, ...hooks: StreamHooks[]): ScriptedCore {
  const diagnostics = new Diagnostics()
  let broker!: ScriptedBroker
  let brokerEvents!: BrokerEvents
  const hub = new Hub((events: BrokerEvents) => {
    brokerEvents = events
    broker = new ScriptedBroker(events)
    return broker
  }, diagnostics)
  const core = new Core(hub, { ...TEST_CORE_OPTIONS, ...options }, diagnostics)
  for (const h of hooks) core.addHooks(h)
  const seen: Record<string, any[]> = {}
  const listeners: [string, (m: unknown) => void][] = []
  for (const name of Object.keys(channels) as (keyof typeof channels)[]) {
    const listener = (m: unknown) => { if ((m as { node?: unknown }).node === diagnostics) (seen[name] ??= []).push(m) }
    dc.subscribe(channels[name].name as string, listener)
    listeners.push([channels[name].name as string, listener])
  }
  const request = (url = 'http://test/cable', headers: WireRequest['headers'] = {}): WireRequest => ({ url: new URL(url), headers, remoteAddress: '127.0.0.1' })
  return {
    core, hub, broker, brokerEvents, seen, request,
    connect(info = {}, url?: string, headers?: WireRequest['headers']) {
      const wire = new FakeWire(info)
      return { wire, conn: core.accept(wire, request(url, headers)) }
    },
    async close() {
      core.shutdown()
      for (const [name, l] of listeners) dc.unsubscribe(name, l)
      await broker.close()
    },
  }
}
