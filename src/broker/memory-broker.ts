import { randomBytes } from 'node:crypto'
import type { StreamMessage, StreamPosition } from '../protocol/messages.js'
import { HistoryUnavailable, type Broker, type BrokerListener, type HistorySince } from './broker.js'

export interface MemoryBrokerOptions {
  /** Messages kept per stream. */
  historyLimit: number
  /** How long a message is kept, in milliseconds. */
  historyTtlMs: number
  /** Clock, for tests. */
  now?: () => number
}

/** One stream's history: a ring of the latest messages, oldest first. */
class StreamLog {
  readonly epoch = newEpoch()
  lastOffset = 0
  readonly ring: (StreamMessage | undefined)[]
  head = 0 // index of the oldest kept message
  size = 0
  constructor(limit: number) {
    this.ring = new Array(limit)
  }
  append(m: StreamMessage): void {
    const cap = this.ring.length
    if (cap === 0) return
    if (this.size < cap) {
      this.ring[(this.head + this.size) % cap] = m
      this.size++
    } else {
      this.ring[this.head] = m
      this.head = (this.head + 1) % cap
    }
  }
  oldest(): StreamMessage | undefined {
    return this.size > 0 ? this.ring[this.head] : undefined
  }
  dropOldest(): void {
    this.ring[this.head] = undefined
    this.head = (this.head + 1) % this.ring.length
    this.size--
  }
  /** Kept messages in order, starting at index `from` (0 = oldest). */
  slice(from: number): StreamMessage[] {
    const out: StreamMessage[] = []
    for (let i = from; i < this.size; i++) out.push(this.ring[(this.head + i) % this.ring.length]!)
    return out
  }
}

/** A new epoch: it changes whenever a stream's history is lost (process start, eviction). */
function newEpoch(): string {
  return randomBytes(3).toString('base64url')
}

/**
 * Single-node broker: a bounded ring per stream. Publish appends and notifies listeners
 * synchronously, so within one process offset order and delivery order are the same thing.
 */
export class MemoryBroker implements Broker {
  private readonly logs = new Map<string, StreamLog>()
  private readonly subscribed = new Set<string>()
  private readonly now: () => number
  private sweepTimer: NodeJS.Timeout | undefined

  constructor(
    private readonly listener: BrokerListener,
    private readonly options: MemoryBrokerOptions,
  ) {
    this.now = options.now ?? Date.now
    // One shared sweep instead of a timer per stream: evicts streams whose history expired.
    const every = Math.max(1000, Math.min(options.historyTtlMs, 60_000))
    this.sweepTimer = setInterval(() => this.sweep(), every)
    this.sweepTimer.unref()
  }

  async publish(stream: string, data: string): Promise<StreamMessage> {
    return this.publishSync(stream, data)
  }

  /** Synchronous publish, for callers in this process that want delivery before they return. */
  publishSync(stream: string, data: string): StreamMessage {
    let log = this.logs.get(stream)
    if (!log) {
      log = new StreamLog(this.options.historyLimit)
      this.logs.set(stream, log)
    }
    const at = this.now()
    this.expire(log, at)
    const message: StreamMessage = { stream, data, offset: ++log.lastOffset, epoch: log.epoch, at }
    log.append(message)
    if (this.subscribed.has(stream)) this.listener(message)
    return message
  }

  async history(stream: string, since: HistorySince): Promise<StreamMessage[]> {
    return this.historySync(stream, since)
  }

  historySync(stream: string, since: HistorySince): StreamMessage[] {
    const log = this.logs.get(stream)
    if ('sinceMs' in since) {
      if (!log) return []
      this.expire(log, this.now())
      const all = log.slice(0)
      let i = 0
      while (i < all.length && all[i].at < since.sinceMs) i++
      return all.slice(i)
    }
    const { offset, epoch } = since.position
    if (!log) throw new HistoryUnavailable(`stream ${JSON.stringify(stream)} has no history`)
    if (epoch !== log.epoch) throw new HistoryUnavailable(`epoch ${epoch} is gone (now ${log.epoch})`)
    if (offset > log.lastOffset) throw new HistoryUnavailable(`offset ${offset} is beyond the latest (${log.lastOffset})`)
    this.expire(log, this.now())
    if (offset === log.lastOffset) return []
    const oldest = log.oldest()
    if (!oldest || offset + 1 < oldest.offset) {
      throw new HistoryUnavailable(`messages after offset ${offset} are no longer kept`)
    }
    return log.slice(offset + 1 - oldest.offset)
  }

  async position(stream: string): Promise<StreamPosition | undefined> {
    const log = this.logs.get(stream)
    return log ? { offset: log.lastOffset, epoch: log.epoch } : undefined
  }

  subscribe(stream: string): void {
    this.subscribed.add(stream)
  }

  unsubscribe(stream: string): void {
    this.subscribed.delete(stream)
  }

  async close(): Promise<void> {
    clearInterval(this.sweepTimer)
    this.sweepTimer = undefined
  }

  /** Number of streams with kept state (for tests and metrics). */
  get streamCount(): number {
    return this.logs.size
  }

  private expire(log: StreamLog, now: number): void {
    const cutoff = now - this.options.historyTtlMs
    for (let m = log.oldest(); m && m.at < cutoff; m = log.oldest()) log.dropOldest()
  }

  private sweep(): void {
    const now = this.now()
    for (const [stream, log] of this.logs) {
      this.expire(log, now)
      // A stream with no kept messages and no local interest is forgotten; its epoch goes with it.
      if (log.size === 0 && !this.subscribed.has(stream)) this.logs.delete(stream)
    }
  }
}
