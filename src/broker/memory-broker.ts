import type { StreamMessage } from '../protocol/messages.js'
import { HistoryUnavailable, type Broker, type BrokerEvents, type BrokerState, type History, type HistoryQuery, type Publication } from './broker.js'
import { epochSource } from './epoch.js'
import { MemoryStore } from './memory-store.js'

export interface MemoryBrokerOptions {
  /** Messages kept per stream. */
  historyLimit: number
  /** How long a message is kept, in milliseconds. */
  historyTtlMs: number
  /** Clock, for tests. */
  now?: () => number
}

/**
 * One stream's history: a ring of the latest messages, oldest first. The array grows up to the
 * limit instead of starting at it: a job's stream keeps a handful of messages, not 100 empty
 * slots (bench jobs: 10,000 new streams per phase).
 */
class StreamLog {
  readonly epoch = newEpoch()
  lastOffset = 0
  ring: (StreamMessage | undefined)[] = []
  head = 0 // index of the oldest kept message
  size = 0
  /**
   * Mirrors MemoryBroker.subscribed for this stream, so a publish does one hash lookup, not two:
   * each costs ≈1 µs among 10,000 streams (bench jobs, timed in the server).
   */
  // Stryker disable next-line BooleanLiteral: MemoryBroker.log() sets it from `subscribed` right after construction
  subscribed = false
  constructor(
    /** The stream's name as first published; every message shares this one string. */
    readonly stream: string,
    private readonly limit: number,
  ) {}
  append(m: StreamMessage): void {
    const ring = this.ring
    if (ring.length < this.limit) {
      // Still growing: the kept messages are ring[head..]; close the gap expiry left, then push.
      // Stryker disable next-line all: compaction only: without it the gap stays until the ring wraps; the same messages are kept and read
      if (this.head > 0) {
        ring.copyWithin(0, this.head)
        ring.length = this.size
        this.head = 0
      }
      ring.push(m)
      this.size++
      return
    }
    const cap = ring.length
    if (cap === 0) return
    if (this.size < cap) {
      ring[(this.head + this.size) % cap] = m
      this.size++
    } else {
      ring[this.head] = m
      this.head = (this.head + 1) % cap
    }
  }
  oldest(): StreamMessage | undefined {
    return this.size > 0 ? this.ring[this.head] : undefined
  }
  dropOldest(): void {
    this.ring[this.head] = undefined
    this.size--
    // Empty while growing: start again at slot 0 (the ring is not full, so nothing wraps).
    if (this.size === 0 && this.ring.length < this.limit) {
      this.ring.length = 0
      this.head = 0
    } else this.head = (this.head + 1) % this.ring.length
  }
  /** At most `limit` kept messages in order, starting at index `from` (0 = oldest). */
  slice(from: number, limit: number): StreamMessage[] {
    const out: StreamMessage[] = []
    const end = Math.min(this.size, from + limit)
    for (let i = from; i < end; i++) out.push(this.ring[(this.head + i) % this.ring.length]!)
    return out
  }
}

/** A memory epoch lives as long as the process: 3 random bytes (4 characters) are plenty. */
const newEpoch = epochSource(3)

/**
 * Single-node broker: a bounded ring per stream. Publish appends and notifies the node
 * synchronously, so within one process offset order and delivery order are the same thing and
 * a subscriber never sees a gap.
 */
export class MemoryBroker implements Broker {
  readonly kind = 'memory'
  state: BrokerState = 'up'
  private readonly logs = new Map<string, StreamLog>()
  private readonly subscribed = new Set<string>()
  private readonly stores = new Map<string, MemoryStore>()
  private readonly now: () => number
  private sweepTimer: NodeJS.Timeout | undefined
  private sweepEvery = Infinity

  constructor(
    private readonly events: BrokerEvents,
    private readonly options: MemoryBrokerOptions,
  ) {
    this.now = options.now ?? Date.now
    this.schedule(options.historyTtlMs)
  }

  async start(): Promise<void> {}

  async publish(stream: string, data: string): Promise<StreamMessage> {
    return this.append(stream, data)
  }

  publishBatch(publications: readonly Publication[]): StreamMessage[] {
    // Stryker disable next-line ArrayDeclaration: preallocation only
    const out: StreamMessage[] = new Array(publications.length)
    for (let i = 0; i < publications.length; i++) out[i] = this.append(publications[i].stream, publications[i].data)
    return out
  }

  async history(stream: string, query: HistoryQuery = {}): Promise<History> {
    return this.historyNow(stream, query)
  }

  /** `history`, answered synchronously. */
  historyNow(stream: string, query: HistoryQuery = {}): History {
    const log = this.log(stream)
    const now = this.now()
    this.expire(log, now)
    const top = { offset: log.lastOffset, epoch: log.epoch }
    // "At most" a fractional limit is its whole part, as the network brokers' slices make it.
    const limit = query.limit === undefined ? Infinity : Math.floor(query.limit)
    let messages: StreamMessage[]
    if (query.after) {
      const { offset, epoch } = query.after
      if (epoch !== log.epoch) throw new HistoryUnavailable(`epoch ${epoch} is gone (now ${log.epoch})`)
      if (offset > log.lastOffset) throw new HistoryUnavailable(`offset ${offset} is beyond the latest (${log.lastOffset})`)
      const oldest = log.oldest()
      if (offset < log.lastOffset && (!oldest || offset + 1 < oldest.offset)) {
        throw new HistoryUnavailable(`messages after offset ${offset} are no longer kept`)
      }
      messages = limit === 0 || offset === log.lastOffset ? [] : log.slice(offset + 1 - oldest!.offset, limit)
    } else if (query.sinceMs !== undefined && limit > 0) {
      const all = log.slice(0, Infinity)
      let i = 0
      while (i < all.length && all[i].at < query.sinceMs) i++
      messages = all.slice(i, limit === Infinity ? undefined : i + limit)
    } else messages = []
    return { messages, top }
  }

  subscribe(stream: string): undefined {
    this.subscribed.add(stream)
    const log = this.logs.get(stream)
    if (log) log.subscribed = true
    return undefined
  }

  unsubscribe(stream: string): void {
    this.subscribed.delete(stream)
    const log = this.logs.get(stream)
    if (log) log.subscribed = false
  }

  store(namespace: string, ttlMs: number, limits?: { maxEntries?: number; maxBytes?: number }): MemoryStore {
    let store = this.stores.get(namespace)
    if (!store) {
      this.stores.set(namespace, (store = new MemoryStore(ttlMs, this.now, limits)))
      // A store with a short TTL (restorable sessions) is swept as often as it needs.
      this.schedule(ttlMs)
    }
    return store
  }

  /** One process: the control message goes straight back to this node. */
  async notify(topic: string, payload: string): Promise<void> {
    this.events.notified?.(topic, payload)
  }

  async close(): Promise<void> {
    clearInterval(this.sweepTimer)
    this.sweepTimer = undefined
    this.state = 'closed'
  }

  /** Number of streams with kept state (for stats). */
  get streamCount(): number {
    return this.logs.size
  }

  /** Appends and delivers before it returns. */
  private append(stream: string, data: string): StreamMessage {
    const log = this.log(stream)
    const at = this.now()
    this.expire(log, at)
    // log.stream, not the caller's copy: a request body's parse makes a fresh string per
    // publication, and each kept message would hold its own (bench jobs: 1M kept messages).
    const message: StreamMessage = { stream: log.stream, data, offset: ++log.lastOffset, epoch: log.epoch, at }
    log.append(message)
    if (log.subscribed) this.events.message(message)
    return message
  }

  /** The stream's log, made on first use: even a read fixes its epoch, so a later publish continues it. */
  private log(stream: string): StreamLog {
    let log = this.logs.get(stream)
    if (!log) {
      log = new StreamLog(stream, this.options.historyLimit)
      log.subscribed = this.subscribed.has(stream)
      this.logs.set(stream, log)
    }
    return log
  }

  private expire(log: StreamLog, now: number): void {
    const cutoff = now - this.options.historyTtlMs
    for (let m = log.oldest(); m && m.at < cutoff; m = log.oldest()) log.dropOldest()
  }

  /**
   * One shared sweep instead of a timer per stream or key, every quarter of the shortest TTL
   * kept here, between 1 s and a minute.
   */
  private schedule(ttlMs: number): void {
    const every = Math.max(1000, Math.min(ttlMs / 4, 60_000))
    if (this.sweepTimer !== undefined && every >= this.sweepEvery) return
    clearInterval(this.sweepTimer)
    this.sweepEvery = every
    this.sweepTimer = setInterval(() => this.sweep(), every)
    this.sweepTimer.unref()
  }

  /** Forgets streams whose history expired and that have no local subscribers; a shared timer runs it. */
  sweep(): void {
    for (const store of this.stores.values()) store.sweep()
    const now = this.now()
    for (const [stream, log] of this.logs) {
      this.expire(log, now)
      // A stream with no kept messages and no local interest is forgotten; its epoch goes with it.
      if (log.size === 0 && !log.subscribed) this.logs.delete(stream)
    }
  }
}
