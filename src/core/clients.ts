import { Disconnects } from '../disconnect.js'
import type { Diagnostics } from '../observability/diagnostics.js'
import { replies } from '../protocol/messages.js'
import type { Connection } from './connection.js'
import type { TransportName } from './wire.js'

export interface ClientsOptions {
  /** Between protocol pings (0 = none). */
  pingIntervalMs: number
  /** Without client input, a bidirectional connection is closed after this (0 = never). */
  inactivityTimeoutMs: number
  /** Any connection is closed after this (0 = never). */
  maxLifetimeMs: number
  maxSessions: number
}

/** How long a ping may wait for a data write to ride along with (well within the client's 6 s stale threshold). */
const PING_RIDE_MS = 100

/**
 * The node's open connections, with the timers they share (never a timer per connection): the
 * protocol ping, and a sweep for inactivity, lifetime and restore holds.
 * Also counts requests held outside any connection (per-job polls) against `maxSessions`, since
 * each holds a socket all the same.
 */
export class Clients {
  readonly all = new Set<Connection>()
  /** Held requests that are not connections (cursor polls), counted against maxSessions. */
  heldRequests = 0
  private pingTimer: NodeJS.Timeout | undefined
  private sweepTimer: NodeJS.Timeout | undefined

  constructor(
    private readonly options: ClientsOptions,
    private readonly diagnostics: Diagnostics,
  ) {}

  get size(): number {
    return this.all.size
  }

  /** Room for one more client under `maxSessions`? */
  canAccept(): boolean {
    return this.all.size + this.heldRequests < this.options.maxSessions
  }

  add(conn: Connection): void {
    this.all.add(conn)
  }

  remove(conn: Connection): boolean {
    return this.all.delete(conn)
  }

  countByTransport(): Partial<Record<TransportName, number>> {
    const out: Partial<Record<TransportName, number>> = {}
    for (const conn of this.all) out[conn.transport] = (out[conn.transport] ?? 0) + 1
    return out
  }

  start(): void {
    const o = this.options
    if (o.pingIntervalMs > 0) {
      this.pingTimer = setInterval(() => this.ping(), o.pingIntervalMs)
      this.pingTimer.unref()
    }
    // How often the sweep runs changes how late an idle or too-old client is closed, not whether
    // (docs/testing.md, "Survivors left").
    // Stryker disable next-line all: the sweep's period, timing only
    const timeouts = [o.inactivityTimeoutMs, o.maxLifetimeMs].filter((t) => t > 0)
    // Stryker disable next-line all: the sweep's period, timing only
    const sweepMs = Math.max(50, Math.min(1000, ...timeouts.map((t) => t / 4)))
    this.sweepTimer = setInterval(() => this.sweep(Date.now()), sweepMs)
    this.sweepTimer.unref()
  }

  /** Ends every connection with `server_restart` and stops the timers. */
  shutdown(): void {
    clearInterval(this.pingTimer)
    clearInterval(this.sweepTimer)
    for (const conn of [...this.all]) conn.disconnect(Disconnects.shutdown)
  }

  /**
   * One ping per tick, encoded once per framing and queued to every connection. A ping waits up
   * to PING_RIDE_MS for a write its connection makes anyway, so a connection receiving data pays
   * no syscall for its keepalive (bench fanout ws 5k: a ping round was one extra write per socket).
   */
  private ping(): void {
    const reply = replies.ping(Math.floor(Date.now() / 1000))
    const frames: Buffer[] = []
    const probe = this.options.inactivityTimeoutMs > 0
    for (const conn of this.all) {
      const framing = conn.framing
      const frame = (frames[framing.id] ??= framing.reply(reply))
      conn.outbox.pushLazy(frame)
      if (probe) conn.wire.probe?.()
    }
    setTimeout(this.releasePings, PING_RIDE_MS).unref()
  }

  /** The pings no data write took along go out on their own. */
  private readonly releasePings = (): void => {
    for (const conn of this.all) conn.outbox.release()
  }

  private sweep(now: number): void {
    const { inactivityTimeoutMs: idleMs, maxLifetimeMs: lifetimeMs } = this.options
    for (const conn of this.all) {
      try {
        this.sweepOne(conn, now, idleMs, lifetimeMs)
      } catch (err) {
        conn.failed(err)
      }
    }
  }

  private sweepOne(conn: Connection, now: number, idleMs: number, lifetimeMs: number): void {
    if (idleMs > 0 && conn.wire.info.bidirectional && now - conn.lastSeen > idleMs) {
      // Stryker disable next-line StringLiteral,ObjectLiteral,ArithmeticOperator: the log line's text and context only
      this.diagnostics.notice('info', 'inactivity timeout', { sid: conn.sid, idleMs: now - conn.lastSeen })
      conn.disconnect(Disconnects.idle)
    } else if (lifetimeMs > 0 && now - conn.openedAt > lifetimeMs) {
      // Stryker disable next-line StringLiteral,ObjectLiteral: the log line's text and context only
      this.diagnostics.notice('info', 'maximum lifetime reached', { sid: conn.sid })
      conn.disconnect(Disconnects.lifetime)
    } else {
      conn.expireRestoreHold(now)
    }
  }
}
