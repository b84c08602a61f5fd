import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { setTimeout as sleep } from 'node:timers/promises'
import { connect, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node'
import type { StreamMessage } from '../protocol/messages.js'
import {
  BrokerUnavailable, HistoryUnavailable,
  type Broker, type BrokerEvents, type BrokerState, type History, type HistoryQuery, type Publication,
} from './broker.js'
import { epochSource } from './epoch.js'
import { NatsLog, type Top } from './nats-log.js'
import { NatsNames } from './nats-names.js'
import { isWrongLastSequence, NatsStore } from './nats-store.js'

export interface NatsBrokerOptions {
  /** `nats://host:port`, several comma-separated for a NATS cluster. */
  url: string
  /** Starts every subject, stream and bucket name (letters, digits, `_`, `-`); nodes of one cluster share it. */
  prefix: string
  historyLimit: number
  historyTtlMs: number
  /** JetStream replicas of the history stream and the buckets (default 1). */
  replicas?: number
  /** How long start() waits for the server (milliseconds, default 10 s). */
  startTimeoutMs?: number
}

/** Network epochs outlive processes and are shared by nodes: 6 random bytes. */
const newEpoch = epochSource(6)
/** Positions this node remembers for its next publishes; beyond it the oldest is forgotten (one more read). */
const TOPS_KEPT = 10_000
/** A publish that keeps losing the race to other nodes gives up after this long. */
const APPEND_DEADLINE_MS = 10_000
/** Marker writes racing other nodes' (each try is a round trip). */
const MAX_TRIES = 20

/**
 * Streams on NATS JetStream: history in one JetStream stream with a subject per Herald stream
 * (offsets and epochs in headers, kept dense by a per-subject sequence check: see nats-log.ts),
 * live delivery by core NATS subscriptions on the subjects the stream republishes every stored
 * message to (at most once; subscribers recover gaps from history), stores as KV buckets.
 * Publishes to one stream are chained on this node: each needs the previous one's sequence.
 */
export class NatsBroker implements Broker {
  readonly kind = 'nats'
  state: BrokerState = 'starting'
  /** Round trips to NATS by purpose, for the benchmark. */
  readonly counters = { publishes: 0, topReads: 0, conflicts: 0, historyReads: 0 }
  private readonly names: NatsNames
  private nc: NatsConnection | undefined
  private log: NatsLog | undefined
  private readonly subs = new Map<string, Subscription>()
  private readonly tops = new Map<string, Top>()
  private readonly chains = new Map<string, Promise<unknown>>()
  private readonly stores = new Map<string, NatsStore>()
  private recovering = 0
  /**
   * What close() ends: each guarded call still waiting for the server, by its rejecter. nats.js
   * leaves a flush pending at close unsettled, so a subscribe or notify in flight would never
   * answer. One entry per call in flight (removed as it settles), so the set stays small.
   */
  private readonly waiting = new Set<(err: Error) => void>()

  constructor(
    private readonly events: BrokerEvents,
    private readonly options: NatsBrokerOptions,
  ) {
    this.names = new NatsNames(options.prefix)
  }

  async start(): Promise<void> {
    try {
      const nc = (this.nc = await connect({
        servers: this.options.url.split(','),
        name: 'herald',
        timeout: this.options.startTimeoutMs ?? 10_000,
        reconnect: true,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
      }))
      const jsm = await jetstreamManager(nc)
      this.log = new NatsLog(jetstream(nc), jsm, this.names, {
        historyLimit: this.options.historyLimit,
        historyTtlMs: this.options.historyTtlMs,
        replicas: this.options.replicas ?? 1,
      })
      await this.log.ensureStream()
      nc.subscribe(this.names.control, { callback: this.onControl })
      await nc.flush()
      void this.watch(nc)
      this.setState('up')
    } catch (err) {
      await this.nc?.close().catch(() => {})
      throw new BrokerUnavailable(`NATS at ${this.options.url}: ${(err as Error)?.message ?? err}`, { cause: err })
    }
  }

  publish(stream: string, data: string): Promise<StreamMessage> {
    if (this.state !== 'up') return Promise.reject(new BrokerUnavailable(`nats: ${this.state}`))
    // Chained per stream: the next append needs this one's sequence.
    const prev = this.chains.get(stream)
    const run = () => this.append(stream, data)
    const p = prev ? prev.then(run, run) : run()
    this.chains.set(stream, p)
    const forget = () => { if (this.chains.get(stream) === p) this.chains.delete(stream) }
    p.then(forget, forget)
    return p
  }

  /** Per stream one after another (each waits for its ack); streams in parallel. */
  publishBatch(publications: readonly Publication[]): Promise<StreamMessage[]> {
    return Promise.all(publications.map((p) => this.publish(p.stream, p.data)))
  }

  async history(stream: string, query: HistoryQuery = {}): Promise<History> {
    const log = this.ready()
    this.counters.historyReads++
    const t = await this.guard(this.topOrMark(stream))
    const top = { offset: t.offset, epoch: t.epoch }
    const { after, sinceMs } = query
    const limit = query.limit ?? Infinity
    if (after) {
      if (after.epoch !== top.epoch) throw new HistoryUnavailable(`epoch ${after.epoch} is gone (now ${top.epoch})`)
      if (after.offset > top.offset) throw new HistoryUnavailable(`offset ${after.offset} is beyond the latest (${top.offset})`)
      if (after.offset === top.offset) return { messages: [], top }
      const kept = await this.guard(log.kept(stream, t))
      if (kept.length === 0 || after.offset + 1 < kept[0].offset) throw new HistoryUnavailable(`messages after offset ${after.offset} are no longer kept`)
      return { messages: limit === 0 ? [] : kept.filter((m) => m.offset > after.offset).slice(0, limit), top }
    }
    if (sinceMs === undefined || limit === 0 || t.offset === 0) return { messages: [], top }
    const kept = await this.guard(log.kept(stream, t))
    return { messages: kept.filter((m) => m.at >= sinceMs).slice(0, limit), top }
  }

  subscribe(stream: string): Promise<void> {
    if (this.state !== 'up' || this.subs.has(stream)) {
      return this.state === 'up' ? Promise.resolve() : Promise.reject(new BrokerUnavailable(`nats: ${this.state}`))
    }
    const nc = this.nc!
    const sub = nc.subscribe(this.names.live(stream), { callback: (err, m) => { if (!err) this.onLive(stream, m) } })
    this.subs.set(stream, sub)
    // The flush's PONG means the server has the SUB: later stored messages reach it.
    return this.guard(nc.flush()).catch((err: unknown) => {
      if (this.subs.get(stream) === sub) {
        this.subs.delete(stream)
        sub.unsubscribe()
      }
      throw err
    })
  }

  unsubscribe(stream: string): void {
    const sub = this.subs.get(stream)
    if (!sub) return
    this.subs.delete(stream)
    sub.unsubscribe()
  }

  store(namespace: string, ttlMs: number): NatsStore {
    let store = this.stores.get(namespace)
    if (!store) {
      const guard = <T>(p: Promise<T>) => {
        if (this.state === 'up') return this.guard(p)
        p.catch(() => {}) // already failing or bound to: the state says why
        return Promise.reject(new BrokerUnavailable(`nats: ${this.state}`))
      }
      this.stores.set(namespace, (store = new NatsStore(() => this.nc, this.names.bucket(namespace), ttlMs, guard)))
    }
    return store
  }

  async notify(topic: string, payload: string): Promise<void> {
    const nc = this.nc!
    if (this.state !== 'up') throw new BrokerUnavailable(`nats: ${this.state}`)
    nc.publish(this.names.control, JSON.stringify([topic, payload]))
    await this.guard(nc.flush())
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return
    this.setState('closed')
    for (const abort of this.waiting) abort(new BrokerUnavailable('nats: closed'))
    this.waiting.clear()
    await this.nc?.close().catch(() => {})
  }

  /** Streams this node subscribes to. */
  get streamCount(): number {
    return this.subs.size
  }

  /**
   * One append, retried while other nodes win the race for the next offset. A loser waits a
   * random, growing moment before it reads the new top: without it, a node whose position is
   * warm (one round trip per publish) can keep beating one that must read first (two), publish
   * after publish.
   */
  private async append(stream: string, data: string): Promise<StreamMessage> {
    const log = this.ready()
    const deadline = Date.now() + APPEND_DEADLINE_MS
    for (let lost = 0; ; lost++) {
      let top = this.tops.get(stream)
      if (!top) {
        this.counters.topReads++
        top = await this.guard(log.top(stream))
      }
      const offset = (top?.offset ?? 0) + 1
      const epoch = top?.epoch ?? newEpoch()
      try {
        this.counters.publishes++
        const { seq, at } = await log.append(stream, data, offset, epoch, top)
        this.remember(stream, { seq, offset, epoch })
        return { stream, data, offset, epoch, at }
      } catch (err) {
        if (!isWrongLastSequence(err)) throw this.unavailable(err)
        this.counters.conflicts++
        if (this.tops.get(stream) === top) this.tops.delete(stream)
        if (Date.now() > deadline) throw new BrokerUnavailable(`nats: stream ${stream} kept changing for ${APPEND_DEADLINE_MS} ms (${lost + 1} publishes lost the race)`)
        // Stryker disable next-line ArithmeticOperator,MethodExpression: backoff timing between lost races
        await sleep(Math.random() * Math.min(2 ** lost, 50))
      }
    }
  }

  /** The stream's last message; a marker fixes the epoch of a stream that has none. */
  private async topOrMark(stream: string): Promise<Top> {
    const log = this.ready()
    for (let i = 0; i < MAX_TRIES; i++) {
      const top = await log.top(stream)
      if (top) {
        if (!this.tops.has(stream)) this.remember(stream, top)
        return top
      }
      const epoch = newEpoch()
      try {
        const { seq } = await log.append(stream, '', 0, epoch, undefined)
        const marked = { seq, offset: 0, epoch }
        this.remember(stream, marked)
        return marked
      } catch (err) {
        if (!isWrongLastSequence(err)) throw err
      }
    }
    throw new BrokerUnavailable(`nats: stream ${stream} changed under ${MAX_TRIES} reads in a row`)
  }

  private remember(stream: string, top: Top): void {
    const known = this.tops.get(stream)
    if (known && known.seq >= top.seq) return
    if (!known && this.tops.size >= TOPS_KEPT) this.tops.delete(this.tops.keys().next().value!)
    this.tops.set(stream, top)
  }

  /** A republished stored message: its headers carry the Herald position and Nats-Sequence. */
  private onLive(stream: string, m: Msg): void {
    if (!m.headers || !this.log) return
    const message = this.log.message(stream, m.headers, m.string())
    if (!message) return
    // Another node's publish: the next local one starts from it instead of losing a race.
    const seq = Number(m.headers.get('Nats-Sequence'))
    if (seq > 0) this.remember(stream, { seq, offset: message.offset, epoch: message.epoch })
    this.events.message(message)
  }

  private readonly onControl = (err: Error | null, m: Msg): void => {
    if (err) return
    let note: unknown
    try {
      note = JSON.parse(m.string())
    } catch {
      return
    }
    if (Array.isArray(note) && typeof note[0] === 'string' && typeof note[1] === 'string') this.events.notified?.(note[0], note[1])
  }

  /** Follows the connection: down on a disconnect; on a reconnect, the history stream again, then up. */
  private async watch(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (this.state === 'closed') return
      if (s.type === 'disconnect' || s.type === 'staleConnection') {
        if (this.state === 'up') this.setState('down', `disconnected from ${s.type === 'disconnect' ? s.server : 'NATS'}`)
      } else if (s.type === 'reconnect') void this.recover()
      else if (s.type === 'close') this.setState('down', 'connection closed')
    }
  }

  /**
   * After a reconnect: the server may have lost everything (a restart without its data), so the
   * history stream is made again and positions this node remembered are forgotten; nats.js has
   * sent every SUB again, and a flush confirms them.
   */
  private async recover(): Promise<void> {
    const run = ++this.recovering
    this.tops.clear()
    for (let attempt = 0; !this.closed && run === this.recovering; attempt++) {
      try {
        await this.log!.ensureStream()
        for (const store of this.stores.values()) store.reopen()
        await this.nc!.flush()
        if (run !== this.recovering || this.closed) return
        this.setState('up')
        this.events.resubscribed?.()
        return
      } catch {
        // Stryker disable next-line ArithmeticOperator,MethodExpression: retry delay of the recovery (timing only)
        await new Promise((resolve) => setTimeout(resolve, Math.min(100 * (attempt + 1), 1000)))
      }
    }
  }

  private get closed(): boolean {
    return this.state === 'closed'
  }

  private ready(): NatsLog {
    if (this.state !== 'up' || !this.log) throw new BrokerUnavailable(`nats: ${this.state}`)
    return this.log
  }

  private setState(state: BrokerState, detail?: string): void {
    if (this.state === state) return
    this.state = state
    this.events.stateChanged?.(state, detail)
  }

  private unavailable(err: unknown): BrokerUnavailable {
    if (err instanceof BrokerUnavailable || err instanceof HistoryUnavailable) return err as BrokerUnavailable
    return new BrokerUnavailable(`nats: ${(err as Error)?.message ?? err}`, { cause: err })
  }

  /**
   * Errors as BrokerUnavailable; a close() while `p` waits ends it as closed. A call made after
   * close() (a history read or an append between two awaits) is closed at once: nothing would
   * end it later.
   */
  private guard<T>(p: Promise<T>): Promise<T> {
    if (this.closed) {
      p.catch(() => {})
      return Promise.reject(new BrokerUnavailable('nats: closed'))
    }
    return new Promise<T>((resolve, reject) => {
      this.waiting.add(reject)
      p.then(
        (value) => {
          this.waiting.delete(reject)
          resolve(value)
        },
        (err: unknown) => {
          this.waiting.delete(reject)
          reject(this.unavailable(err))
        },
      )
    })
  }
}
