import type { StreamMessage } from '../protocol/messages.js'
import {
  BrokerUnavailable, HistoryUnavailable,
  type Broker, type BrokerEvents, type BrokerState, type History, type HistoryQuery, type Publication,
} from './broker.js'
import { epochSource } from './epoch.js'
import { createRedisClient, type RedisClient } from './redis-connect.js'
import { RedisKeys } from './redis-keys.js'
import { HISTORY_LUA, PUBLISH_LUA } from './redis-scripts.js'
import { RedisStore } from './redis-store.js'
import { RedisSubscriber } from './redis-subscriber.js'

export interface RedisBrokerOptions {
  /** `redis://…`, `rediss://…`, `redis+sentinel://…` or `redis+cluster://…` (see redis-connect.ts). */
  url: string
  /** Starts every key and channel, e.g. `herald:`; nodes of one cluster share it. */
  prefix: string
  /** Messages kept per stream (XADD MAXLEN). */
  historyLimit: number
  /** How long a message is kept, in milliseconds. */
  historyTtlMs: number
  /** How long a stream's epoch and offset outlive its last publish, in milliseconds (at least historyTtlMs). */
  historyMetaTtlMs: number
  /** How long start() waits for Redis before it gives up (milliseconds, default 10 s). */
  startTimeoutMs?: number
}

/** Script replies as ioredis hands them over (RESP2 integers and strings). */
type PublishReply = [offset: number, epoch: string, at: number]
type HistoryReply = [epoch: string, top: number, status: 'ok' | 'epoch' | 'beyond' | 'gone', ...rest: (string | number)[]]
interface HeraldCommands {
  heraldPublish(meta: string, log: string, data: string, epoch: string, limit: number, ttl: number, metaTtl: number, channel: string): Promise<PublishReply>
  heraldHistory(meta: string, log: string, epoch: string, metaTtl: number, ttl: number, mode: string,
    afterEpoch: string, afterOffset: number, since: number, limit: number): Promise<HistoryReply>
}

/** Network epochs outlive processes and are shared by nodes: 6 random bytes. */
const newEpoch = epochSource(6)

/**
 * Streams on Redis: one Lua script per publication (offset, history append, PUBLISH in one
 * atomic step, see redis-scripts.ts), history from a Redis Stream per Herald stream, live
 * delivery over one shared subscriber connection per node, stores as keys with PX expiry.
 * While Redis is away every operation rejects at once with BrokerUnavailable and the state is
 * `down`; when it returns the node subscribes every stream again and reports `resubscribed`,
 * after which subscribers compare their positions with the top (pub/sub is at most once).
 */
export class RedisBroker implements Broker {
  readonly kind = 'redis'
  state: BrokerState = 'starting'
  /** Round trips to Redis by purpose, for the benchmark: one script per publication. */
  readonly counters = { publishScripts: 0, historyScripts: 0, storeCommands: 0 }
  private readonly keys: RedisKeys
  private readonly cmd: RedisClient & HeraldCommands
  private readonly sub: RedisSubscriber
  private readonly stores = new Map<string, RedisStore>()
  private readonly metaTtlMs: number
  private cmdReady = false
  private subReady = false
  private wasUp = false
  private lastError = ''
  private upWaiters: (() => void)[] = []

  constructor(
    private readonly events: BrokerEvents,
    private readonly options: RedisBrokerOptions,
  ) {
    this.keys = new RedisKeys(options.prefix)
    this.metaTtlMs = Math.max(options.historyMetaTtlMs, options.historyTtlMs)
    // Commands issued in one tick go out in one write (a publishBatch, many subscribers' reads).
    // Stryker disable next-line ObjectLiteral,BooleanLiteral: auto-pipelining only batches writes: the same replies in the same order
    const cmd = createRedisClient(options.url, 'commands', { enableAutoPipelining: true })
    cmd.defineCommand('heraldPublish', { numberOfKeys: 2, lua: PUBLISH_LUA })
    cmd.defineCommand('heraldHistory', { numberOfKeys: 2, lua: HISTORY_LUA })
    this.cmd = cmd as RedisClient & HeraldCommands
    this.sub = new RedisSubscriber(createRedisClient(options.url, 'subscriber'), this.keys.control, this.onMessage, this.onControl)
    this.watch(this.cmd, (ready) => {
      this.cmdReady = ready
      this.update()
    })
    this.watch(this.sub.client, (ready) => {
      if (!ready) {
        this.subReady = false
        return this.update()
      }
      this.sub.subscribeAll().then(
        () => {
          this.subReady = true
          this.update()
        },
        // The connection dropped again mid-way; its next 'ready' tries again.
        (err: Error) => { this.lastError = err.message },
      )
    })
  }

  async start(): Promise<void> {
    const timeoutMs = this.options.startTimeoutMs ?? 10_000
    // connect() rejects on a failed first attempt, but ioredis keeps retrying: wait for `up`.
    for (const client of [this.cmd, this.sub.client]) client.connect().catch(() => {})
    if (this.state === 'up') return
    let timer: NodeJS.Timeout | undefined
    const up = await Promise.race([
      new Promise<boolean>((resolve) => this.upWaiters.push(() => resolve(true))),
      new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), timeoutMs) }),
    ])
    clearTimeout(timer)
    if (!up) {
      await this.close()
      throw new BrokerUnavailable(`Redis at ${this.options.url} did not answer within ${timeoutMs} ms${this.lastError ? `: ${this.lastError}` : ''}`)
    }
  }

  async publish(stream: string, data: string): Promise<StreamMessage> {
    const [meta, log, channel] = this.keys.stream(stream)
    const o = this.options
    this.counters.publishScripts++
    const [offset, epoch, at] = await this.guard(this.cmd.heraldPublish(meta, log, data, newEpoch(), o.historyLimit, o.historyTtlMs, this.metaTtlMs, channel))
    return { stream, data, offset, epoch, at }
  }

  /**
   * One script per publication, all written at once (auto-pipelining: one write for the batch,
   * replies in order). Per stream the offsets follow the list, since one connection runs the
   * scripts in the order sent. Not a transaction: when Redis fails midway, the ones before
   * stay published and the batch rejects.
   */
  publishBatch(publications: readonly Publication[]): Promise<StreamMessage[]> {
    return Promise.all(publications.map((p) => this.publish(p.stream, p.data)))
  }

  async history(stream: string, query: HistoryQuery = {}): Promise<History> {
    const [meta, log] = this.keys.stream(stream)
    const { after, sinceMs } = query
    const mode = after ? 'after' : sinceMs !== undefined ? 'since' : 'top'
    const limit = query.limit === undefined || !Number.isFinite(query.limit) ? -1 : Math.max(0, Math.floor(query.limit))
    this.counters.historyScripts++
    const [epoch, topOffset, status, ...rest] = await this.guard(this.cmd.heraldHistory(
      meta, log, newEpoch(), this.metaTtlMs, this.options.historyTtlMs, mode,
      after?.epoch ?? '', after?.offset ?? 0, sinceMs ?? 0, limit,
    ))
    if (status === 'epoch') throw new HistoryUnavailable(`epoch ${after!.epoch} is gone (now ${epoch})`)
    if (status === 'beyond') throw new HistoryUnavailable(`offset ${after!.offset} is beyond the latest (${topOffset})`)
    if (status === 'gone') throw new HistoryUnavailable(`messages after offset ${after!.offset} are no longer kept`)
    const messages: StreamMessage[] = []
    for (let i = 0; i < rest.length; i += 3) {
      messages.push({ stream, data: String(rest[i + 1]), offset: Number(rest[i]), epoch, at: Number(rest[i + 2]) })
    }
    return { messages, top: { offset: topOffset, epoch } }
  }

  subscribe(stream: string): Promise<void> {
    return this.guard(this.sub.subscribe(stream, this.keys.stream(stream)[2]))
  }

  unsubscribe(stream: string): void {
    this.sub.unsubscribe(this.keys.stream(stream)[2])
  }

  store(namespace: string, ttlMs: number): RedisStore {
    let store = this.stores.get(namespace)
    if (!store) {
      const guard = <T>(p: Promise<T>) => {
        this.counters.storeCommands++
        return this.guard(p)
      }
      this.stores.set(namespace, (store = new RedisStore(this.cmd, this.keys, namespace, ttlMs, guard)))
    }
    return store
  }

  async notify(topic: string, payload: string): Promise<void> {
    await this.guard(this.cmd.publish(this.keys.control, JSON.stringify([topic, payload])))
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return
    this.setState('closed')
    await Promise.all([this.cmd, this.sub.client].map((c) => c.quit().catch(() => c.disconnect())))
  }

  /** Streams this node subscribes to. */
  get streamCount(): number {
    return this.sub.size
  }

  /** "<offset>:<epoch>:<at>:<data>", as the publish script sends it. */
  private readonly onMessage = (stream: string, payload: string): void => {
    const i = payload.indexOf(':')
    const j = payload.indexOf(':', i + 1)
    const k = payload.indexOf(':', j + 1)
    // j < 0: one colon only (then k would find the first colon again).
    if (j < 0 || k < 0) return
    this.events.message({
      stream,
      data: payload.slice(k + 1),
      offset: Number(payload.slice(0, i)),
      epoch: payload.slice(i + 1, j),
      at: Number(payload.slice(j + 1, k)),
    })
  }

  private readonly onControl = (payload: string): void => {
    let note: unknown
    try {
      note = JSON.parse(payload)
    } catch {
      return
    }
    if (Array.isArray(note) && typeof note[0] === 'string' && typeof note[1] === 'string') this.events.notified?.(note[0], note[1])
  }

  /** Reports a connection's readiness; errors are kept for the state's detail (an unhandled 'error' would throw). */
  private watch(client: RedisClient, ready: (ready: boolean) => void): void {
    client.on('ready', () => ready(true))
    client.on('close', () => ready(false))
    client.on('error', (err: Error) => { this.lastError = err.message })
  }

  private update(): void {
    if (this.state === 'closed') return
    if (this.cmdReady && this.subReady) {
      if (this.state === 'up') return
      this.setState('up')
      if (this.wasUp) this.events.resubscribed?.()
      this.wasUp = true
      for (const resolve of this.upWaiters.splice(0)) resolve()
    } else if (this.state === 'up') this.setState('down', this.lastError || 'connection to Redis lost')
  }

  private setState(state: BrokerState, detail?: string): void {
    this.state = state
    this.events.stateChanged?.(state, detail)
  }

  /** Any client failure is the broker being unavailable: a 503 for publishers, a rejection for subscribers. */
  private guard<T>(p: Promise<T>): Promise<T> {
    return p.catch((err: unknown) => {
      throw err instanceof BrokerUnavailable ? err : new BrokerUnavailable(`redis: ${(err as Error)?.message ?? err}`, { cause: err })
    })
  }
}
