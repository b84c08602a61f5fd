import type { Broker, BrokerListener } from '../broker/broker.js'
import { verifyJwt } from '../auth/jwt.js'
import { StreamAuthorizer } from '../auth/stream-authorizer.js'
import { Connection } from '../core/connection.js'
import type { Subscription } from '../core/subscription.js'
import { Disconnects, type Disconnect } from '../disconnect.js'
import type { ErrorCode } from '../errors.js'
import type { HeraldLogger } from '../observability/logger.js'
import type { Metrics } from '../observability/metrics.js'
import { canonicalData, replies, type StreamMessage } from '../protocol/messages.js'
import type { Wire, WireRequest } from '../core/wire.js'
import { PreparedBroadcast } from '../framing/prepared-broadcast.js'
import { SessionCache } from '../core/session-cache.js'

export interface HubOptions {
  /** Seconds between protocol pings. */
  pingInterval: number
  outboxBytes: number
  /** Seconds a disconnected session stays restorable. */
  sessionsTtl: number
  /** Seconds without client input before a bidirectional session is closed (0 = never). */
  inactivityTimeout: number
  /** Seconds after which any session is closed (0 = never). */
  maxLifetime: number
  maxSessions: number
  publicStreams: boolean
  streamsSecret: string
  /** HS256/384/512 secret for connection tokens (`?jid=` / `X-JID`); empty = every session is accepted. */
  jwtSecret?: string
}

/** Lets other parts (jobs) add to what a new subscriber of a stream sees first. */
export interface StreamHooks {
  /** JSON text sent to a new subscriber right after `confirm_subscription`, or undefined. */
  snapshot(stream: string): string | undefined
  /** True for a message after which the stream carries nothing more (a job's final event). */
  isFinal?(message: StreamMessage): boolean
}

export interface HubDeps {
  createBroker: (listener: BrokerListener) => Broker
  metrics: Metrics
  log: HeraldLogger
}

/** How long a ping may wait for a data write to ride along with (well within the client's 6 s stale threshold). */
const PING_RIDE_MS = 100

/**
 * The local registry: connections, and subscribers by stream and identifier. Fans out broker
 * messages with one encoding per identifier and framing, runs the shared heartbeat and sweep
 * timers (never a timer per connection), and keeps disconnected sessions for restore.
 */
export class Hub {
  readonly connections = new Set<Connection>()
  readonly broker: Broker
  readonly sessions: SessionCache
  readonly authorizer: StreamAuthorizer
  readonly metrics: Metrics
  readonly log: HeraldLogger
  /**
   * Subscribers by stream, one flat Set each: no per-identifier Map, since a stream's subscribers
   * nearly always share one identifier (≈200 B less per idle one-stream connection; bench idle).
   */
  private readonly streams = new Map<string, Set<Subscription>>()
  private readonly hooks: StreamHooks[] = []
  private pingTimer: NodeJS.Timeout | undefined
  private sweepTimer: NodeJS.Timeout | undefined
  private subscriptionCount = 0

  constructor(
    readonly options: HubOptions,
    deps: HubDeps,
  ) {
    this.metrics = deps.metrics
    this.log = deps.log
    this.sessions = new SessionCache(options.sessionsTtl * 1000)
    this.authorizer = new StreamAuthorizer(options)
    this.broker = deps.createBroker(this.fanOut)
  }

  start(): void {
    if (this.options.pingInterval > 0) {
      this.pingTimer = setInterval(() => this.ping(), this.options.pingInterval * 1000)
      this.pingTimer.unref()
    }
    const timeouts = [this.options.inactivityTimeout, this.options.maxLifetime].filter((t) => t > 0)
    const sweepMs = Math.max(50, Math.min(1000, ...timeouts.map((t) => (t * 1000) / 4)))
    this.sweepTimer = setInterval(() => this.sweep(Date.now()), sweepMs)
    this.sweepTimer.unref()
  }

  addHooks(hooks: StreamHooks): void {
    this.hooks.push(hooks)
  }

  snapshot(stream: string): string | undefined {
    for (const hook of this.hooks) {
      const s = hook.snapshot(stream)
      if (s !== undefined) return s
    }
    return undefined
  }

  /** Does any hook say this message ends its stream? */
  isFinal(message: StreamMessage): boolean {
    for (const hook of this.hooks) if (hook.isFinal?.(message)) return true
    return false
  }

  /**
   * Connection-level authentication, the same for every transport: with `jwtSecret` set, a valid
   * token in the `X-JID` header or the `jid` query parameter. Returns why it failed, or undefined.
   */
  authenticate(request: WireRequest): string | undefined {
    const secret = this.options.jwtSecret
    if (!secret) return undefined
    const header = request.headers['x-jid']
    const token = (Array.isArray(header) ? header[0] : header) || request.url.searchParams.get('jid')
    if (!token) return 'no token (X-JID header or jid parameter)'
    return verifyJwt(token, secret).ok ? undefined : 'invalid or expired token'
  }

  /** Room for one more session under `maxSessions`? */
  canAccept(): boolean {
    return this.connections.size < this.options.maxSessions
  }

  /**
   * Wraps a transport's session in a connection and sends `welcome`, or restores the session the
   * request names (`X-AnyCable-Restore-SID` header, else `?sid=`) when its wire can restore.
   */
  accept(wire: Wire, request: WireRequest): Connection {
    const conn = new Connection(this, wire, request)
    this.connections.add(conn)
    this.metrics.connections.inc({ transport: wire.info.transport })
    this.metrics.connectionsTotal.inc({ transport: wire.info.transport })
    this.log.debug({ sid: conn.sid, transport: wire.info.transport, remote: request.remoteAddress }, 'session open')
    const denied = this.authenticate(request)
    if (denied !== undefined) {
      // HTTP transports check first and answer 401; a WebSocket hears it as a disconnect.
      this.rejectInput('HERALD_ERR_UNAUTHORIZED', denied, { sid: conn.sid, transport: wire.info.transport })
      conn.disconnect(Disconnects.unauthorized)
      return conn
    }
    conn.open(restoreSidOf(wire, request))
    return conn
  }

  /** Called by a connection once it has ended. */
  remove(conn: Connection, reason: Disconnect): void {
    if (!this.connections.delete(conn)) return
    this.metrics.connections.dec({ transport: conn.transport })
    this.metrics.disconnects.inc({ reason: reason.reason })
    this.log.debug({ sid: conn.sid, reason: reason.reason }, 'session closed')
  }

  /** Publishes to a stream: canonical JSON once, then broker append + fan-out. */
  publish(stream: string, data: unknown): Promise<StreamMessage> {
    this.metrics.published.inc()
    return this.broker.publish(stream, canonicalData(data))
  }

  /**
   * `publish`, finished before it returns, when the broker can do that (the memory broker);
   * otherwise undefined and nothing was published. No promise and no await per publication in
   * a 500-message `POST /_broadcast` (bench jobs).
   */
  publishNow(stream: string, data: unknown): StreamMessage | undefined {
    if (this.broker.publishSync === undefined) return undefined
    this.metrics.published.inc()
    return this.broker.publishSync(stream, canonicalData(data))
  }

  subscribe(sub: Subscription): void {
    let group = this.streams.get(sub.stream)
    if (!group) {
      group = new Set()
      this.streams.set(sub.stream, group)
      this.broker.subscribe(sub.stream)
      this.metrics.streams.inc()
    }
    group.add(sub)
    this.subscriptionCount++
    this.metrics.subscriptions.inc()
  }

  unsubscribe(sub: Subscription): void {
    const group = this.streams.get(sub.stream)
    if (!group || !group.delete(sub)) return
    this.subscriptionCount--
    this.metrics.subscriptions.dec()
    if (group.size > 0) return
    this.streams.delete(sub.stream)
    this.broker.unsubscribe(sub.stream)
    this.metrics.streams.dec()
  }

  /** Local subscribers of a stream (all identifiers). */
  subscriberCount(stream: string): number {
    return this.streams.get(stream)?.size ?? 0
  }

  /** Streams with at least one local subscriber. */
  get streamCount(): number {
    return this.streams.size
  }

  get totalSubscriptions(): number {
    return this.subscriptionCount
  }

  /** Records rejected input once: a log line and a metric by code. */
  rejectInput(code: ErrorCode | string, detail: string, context: Record<string, unknown> = {}): void {
    this.metrics.errors.inc({ code })
    this.log.warn({ ...context, code }, detail)
  }

  /** Ends every session with `server_restart` and stops the timers. */
  shutdown(): void {
    clearInterval(this.pingTimer)
    clearInterval(this.sweepTimer)
    for (const conn of [...this.connections]) conn.disconnect(Disconnects.shutdown)
  }

  /**
   * The broker's listener: one PreparedBroadcast per identifier, its bytes shared by every
   * subscriber. The current identifier's is reused while it repeats (the usual case: one), so the
   * walk allocates nothing per subscriber; a Map appears only for a stream with mixed identifiers.
   */
  private readonly fanOut = (message: StreamMessage): void => {
    const group = this.streams.get(message.stream)
    if (!group) return
    let identifier: string | undefined
    let prepared: PreparedBroadcast | undefined
    let others: Map<string, PreparedBroadcast> | undefined
    for (const sub of group) {
      if (sub.identifier !== identifier) {
        if (prepared !== undefined) (others ??= new Map()).set(prepared.identifier, prepared)
        identifier = sub.identifier
        // The subscription's cached reply head: one stream per connection means no sharing (bench jobs).
        prepared = others?.get(identifier) ?? new PreparedBroadcast(identifier, message, (sub.dataHead ??= replies.dataHead(identifier)))
      }
      sub.connection.deliver(sub, prepared!)
    }
    this.metrics.deliveries.inc(group.size)
  }

  /**
   * One ping per tick, encoded once per framing and queued to every session. A ping waits up to
   * PING_RIDE_MS for a write its connection makes anyway, so a connection receiving data pays no
   * syscall for its keepalive (bench fanout ws 5k: a ping round was one extra write per socket).
   */
  private ping(): void {
    const json = replies.ping(Math.floor(Date.now() / 1000))
    const frames: Buffer[] = []
    const probe = this.options.inactivityTimeout > 0
    for (const conn of this.connections) {
      const framing = conn.framing
      const frame = (frames[framing.id] ??= framing.reply(json))
      conn.outbox.pushLazy(frame)
      if (probe) conn.wire.probe?.()
    }
    setTimeout(this.releasePings, PING_RIDE_MS).unref()
  }

  /** The pings no data write took along go out on their own. */
  private readonly releasePings = (): void => {
    for (const conn of this.connections) conn.outbox.release()
  }

  private sweep(now: number): void {
    const idleMs = this.options.inactivityTimeout * 1000
    const lifetimeMs = this.options.maxLifetime * 1000
    for (const conn of this.connections) {
      if (idleMs > 0 && conn.wire.info.bidirectional && now - conn.lastSeen > idleMs) {
        this.log.info({ sid: conn.sid, idleMs: now - conn.lastSeen }, 'inactivity timeout')
        conn.disconnect(Disconnects.idle)
      } else if (lifetimeMs > 0 && now - conn.openedAt > lifetimeMs) {
        this.log.info({ sid: conn.sid }, 'maximum lifetime reached')
        conn.disconnect(Disconnects.lifetime)
      } else {
        conn.expireRestoreHold(now)
      }
    }
    this.sessions.sweep(now)
  }
}

/** The sid a reconnecting client asks to restore; only extended-protocol wires that can restore look. */
function restoreSidOf(wire: Wire, request: WireRequest): string | undefined {
  if (!wire.info.extended || wire.info.restorable === false) return undefined
  const header = request.headers['x-anycable-restore-sid']
  return (Array.isArray(header) ? header[0] : header) || request.url.searchParams.get('sid') || undefined
}
