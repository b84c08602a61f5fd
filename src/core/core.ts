import { randomBytes } from 'node:crypto'
import { JwtVerifier, type JwtOptions } from '../auth/jwt.js'
import { RateLimiter } from '../auth/rate-limit.js'
import { StreamAuthorizer } from '../auth/stream-authorizer.js'
import { Disconnects } from '../disconnect.js'
import { HeraldError } from '../errors.js'
import type { Hub } from '../hub/hub.js'
import type { Diagnostics } from '../observability/diagnostics.js'
import type { CommandLimits } from '../protocol/codec.js'
import type { StreamMessage } from '../protocol/messages.js'
import { Clients, type ClientsOptions } from './clients.js'
import { Connection, type ChannelPositions } from './connection.js'
import type { ConnectionContext } from './context.js'
import { SessionCache, type SessionState } from './session-cache.js'
import type { StreamHooks } from './stream-hooks.js'
import type { Wire, WireRequest } from './wire.js'

export interface CoreOptions extends ClientsOptions {
  outboxBytes: number
  /** How long a disconnected session stays restorable (0 = never). */
  sessionsTtlMs: number
  /** Most sessions kept for restore in this process (the memory broker). */
  sessionsMaxEntries: number
  /** Most bytes of sessions kept for restore in this process; one session's state at most a sixteenth of it. */
  sessionsMaxBytes: number
  publicStreams: boolean
  streamsSecret: string
  /** Connection tokens (`?jid=`, `X-JID`, a `jid.<token>` WebSocket subprotocol); no secret or key = every client is accepted. */
  jwt: Readonly<JwtOptions>
  /** Most subscriptions one connection may hold. */
  maxSubscriptions: number
  /** Limits on every command a client sends. */
  commandLimits: CommandLimits
  /** New sessions a second per IP, and commands a second per connection; 0 = no limit. */
  rates?: { connectionsPerIp: number; commandsPerConnection: number }
}

/**
 * The protocol core of one node, as transports see it: admission (connection auth, the session
 * limit, restore, welcome), the connections, and what each connection shares. Transports build
 * a Wire and call `accept`; everything about subscriptions, history and positions happens behind it.
 */
export class Core implements ConnectionContext {
  readonly clients: Clients
  readonly sessions: SessionCache
  readonly authorizer: StreamAuthorizer
  readonly outboxBytes: number
  /** This node's name among the nodes sharing a broker (control messages say who sent them). */
  readonly nodeId = randomBytes(9).toString('base64url')
  readonly maxSubscriptions: number
  readonly commandLimits: CommandLimits
  readonly commandRate: RateLimiter<object> | undefined
  /** New sessions a second per IP (--rate-connections-per-ip). */
  readonly connectionRate: RateLimiter<string>
  private readonly hooks: StreamHooks[] = []
  private readonly verifier: JwtVerifier | undefined
  /** Sessions are kept while they live (a network broker: other nodes restore them). */
  private readonly liveSessions: boolean
  private readonly unsaved = new Set<Connection>()
  private refreshTimer: NodeJS.Timeout | undefined

  constructor(
    readonly hub: Hub,
    readonly options: Readonly<CoreOptions>,
    readonly diagnostics: Diagnostics,
  ) {
    this.outboxBytes = options.outboxBytes
    this.maxSubscriptions = options.maxSubscriptions
    this.commandLimits = options.commandLimits
    const limits = { maxEntries: options.sessionsMaxEntries, maxBytes: options.sessionsMaxBytes }
    const store = options.sessionsTtlMs > 0 ? hub.broker.store('sessions', options.sessionsTtlMs, limits) : undefined
    this.sessions = new SessionCache(store, Math.max(1024, options.sessionsMaxBytes / 16))
    this.liveSessions = store !== undefined && hub.broker.kind !== 'memory'
    this.clients = new Clients(options, diagnostics)
    this.authorizer = new StreamAuthorizer(options)
    const verifier = new JwtVerifier(options.jwt)
    this.verifier = verifier.enabled ? verifier : undefined
    const commandRate = new RateLimiter<object>({ ratePerSec: options.rates?.commandsPerConnection ?? 0 }, true)
    this.commandRate = commandRate.enabled ? commandRate : undefined
    this.connectionRate = new RateLimiter<string>({ ratePerSec: options.rates?.connectionsPerIp ?? 0 })
  }

  /**
   * Takes a token for a new session from `remote`: undefined when allowed, else the seconds to
   * wait (for Retry-After). The caller refuses with 429 and logs it.
   */
  overConnectionRate(remote: string | undefined): number | undefined {
    if (!this.connectionRate.enabled || this.connectionRate.take(remote ?? '')) return undefined
    return this.connectionRate.retryAfterSec(remote ?? '')
  }

  /** The 429 for a session over --rate-connections-per-ip. */
  private rateRefusal(wait: number): HeraldError {
    return new HeraldError('HERALD_ERR_RATE_LIMITED', `more than ${this.connectionRate.ratePerSec} new sessions a second from this address (--rate-connections-per-ip)`, { retryAfterSec: wait })
  }

  /** Throws the 429 when `request` comes over --rate-connections-per-ip. */
  checkConnectionRate(request: WireRequest): void {
    const wait = this.overConnectionRate(request.remoteAddress)
    if (wait !== undefined) throw this.rateRefusal(wait)
  }

  addHooks(hooks: StreamHooks): void {
    this.hooks.push(hooks)
  }

  snapshot(stream: string, after?: StreamMessage): Promise<string | undefined> | string | undefined {
    if (this.hooks.length === 1) return this.hooks[0].snapshot(stream, after)
    return this.firstSnapshot(stream, after)
  }

  private async firstSnapshot(stream: string, after?: StreamMessage): Promise<string | undefined> {
    for (const hook of this.hooks) {
      const s = await hook.snapshot(stream, after)
      if (s !== undefined) return s
    }
    return undefined
  }

  /**
   * Connection-level authentication, the same for every transport: with a JWT secret, public key
   * or JWKS URL configured, a valid token in the `X-JID` header, the `jid` query parameter or a
   * `jid.<token>` entry of `Sec-WebSocket-Protocol`. Resolves to why it failed, or undefined;
   * synchronous (no promise) when there is nothing to verify. Never rejects.
   */
  authenticate(request: WireRequest): string | undefined | Promise<string | undefined> {
    const verifier = this.verifier
    if (!verifier) return undefined
    const token = tokenOf(request)
    if (!token) return 'no token (X-JID header, jid parameter or jid.<token> subprotocol)'
    return verifier.verify(token).then((v) => (v.ok ? undefined : v.why))
  }

  /**
   * The admission check every HTTP transport makes before it holds a request: the connection
   * token (401), then the session limit (503). Rejects with the HeraldError to answer with.
   */
  async admit(request: WireRequest): Promise<void> {
    this.checkConnectionRate(request)
    const verdict = this.authenticate(request)
    const denied = verdict instanceof Promise ? await verdict : verdict
    if (denied !== undefined) throw new HeraldError('HERALD_ERR_UNAUTHORIZED', denied)
    if (!this.clients.canAccept()) throw new HeraldError('HERALD_ERR_TOO_MANY_SESSIONS')
  }

  /** Room for one more client under `maxSessions`? */
  canAccept(): boolean {
    return this.clients.canAccept()
  }

  /**
   * A session that continues here from another node (a long-poll session): a connection with
   * the session's sid, no welcome, its channels resumed from their positions.
   */
  adopt(wire: Wire, request: WireRequest, sid: string, channels: readonly ChannelPositions[]): Connection {
    const conn = new Connection(this, wire, request, sid)
    this.clients.add(conn)
    this.diagnostics.connectionOpen(conn.sid, wire.info.transport, request.remoteAddress)
    conn.resume(channels)
    return conn
  }

  /**
   * Wraps a transport's wire in a connection and sends `welcome`, or restores the session the
   * request names (`X-AnyCable-Restore-SID` header, else `?sid=`) when its wire can restore.
   * The transport has run `authenticate` (or `admit`) once, before: `denied` is its verdict, and
   * a denied client hears `disconnect` `unauthorized` (a WebSocket, as in AnyCable).
   */
  accept(wire: Wire, request: WireRequest, denied?: string): Connection {
    const conn = new Connection(this, wire, request)
    this.clients.add(conn)
    this.diagnostics.connectionOpen(conn.sid, wire.info.transport, request.remoteAddress)
    if (denied !== undefined) {
      // HTTP transports check first and answer 401; a WebSocket hears it as a disconnect.
      this.diagnostics.inputReject('HERALD_ERR_UNAUTHORIZED', denied, { sid: conn.sid, transport: wire.info.transport })
      conn.disconnect(Disconnects.unauthorized)
      return conn
    }
    const from = restoreSidOf(wire, request)
    if (from === undefined) conn.open()
    else void this.restore(conn, from)
    return conn
  }

  /** Looks the session up in the store (another node may have kept it), then welcomes. */
  private async restore(conn: Connection, from: string): Promise<void> {
    let state: SessionState | undefined
    try {
      state = await this.sessions.take(from)
    } catch (err) {
      // The store is down: the client starts afresh rather than waiting for it.
      this.diagnostics.brokerError('restore a session', err)
    }
    if (conn.isOpen) conn.open(state === undefined ? undefined : { from, state })
  }

  ended(conn: Connection, state: SessionState | undefined): void {
    if (!this.clients.remove(conn)) return
    this.unsaved.delete(conn)
    if (state !== undefined) this.save(conn.sid, state)
    // A session kept while it lived (a network broker) is not restorable after an end that says so.
    else if (this.liveSessions && conn.restorable) this.sessions.forget(conn.sid).catch((err: unknown) => this.diagnostics.brokerError('forget a session', err))
  }

  /**
   * With a network broker a session's state is kept while it lives, not only when it ends: a
   * node killed outright saves nothing, and its clients reconnecting elsewhere are restored all
   * the same. Saved once per turn per connection, and refreshed before its TTL runs out.
   */
  changed(conn: Connection): void {
    if (!this.liveSessions || !conn.restorable) return
    this.unsaved.add(conn)
    if (this.unsaved.size === 1) setImmediate(this.saveChanged)
  }

  private readonly saveChanged = (): void => {
    for (const conn of this.unsaved) if (conn.isOpen) this.save(conn.sid, conn.sessionState())
    this.unsaved.clear()
  }

  /** Saves every live session again, so one that outlives the TTL stays restorable. */
  private readonly refreshSessions = (): void => {
    for (const conn of this.clients.all) if (conn.restorable) this.unsaved.add(conn)
    if (this.unsaved.size > 0) setImmediate(this.saveChanged)
  }

  private save(sid: string, state: SessionState): void {
    this.sessions.save(sid, state).catch((err: unknown) => this.diagnostics.brokerError('keep a session for restore', err))
  }

  start(): void {
    this.clients.start()
    if (this.liveSessions) {
      this.refreshTimer = setInterval(this.refreshSessions, Math.max(1000, this.options.sessionsTtlMs / 3))
      this.refreshTimer.unref()
    }
  }

  /** Ends every connection with `server_restart` and stops the timers. */
  shutdown(): void {
    clearInterval(this.refreshTimer)
    this.clients.shutdown()
  }
}

/** The subprotocol entry that carries a token, for browsers that cannot set headers on a WebSocket. */
export const TOKEN_SUBPROTOCOL_PREFIX = 'jid.'

/** The connection token: `X-JID`, else `?jid=`, else a `jid.<token>` entry of `Sec-WebSocket-Protocol`. */
function tokenOf(request: WireRequest): string | undefined {
  const header = request.headers['x-jid']
  const token = (Array.isArray(header) ? header[0] : header) || request.url.searchParams.get('jid')
  if (token) return token
  const protocols = request.headers['sec-websocket-protocol']
  if (!protocols) return undefined
  for (const entry of String(protocols).split(',')) {
    const p = entry.trim()
    if (p.startsWith(TOKEN_SUBPROTOCOL_PREFIX) && p.length > TOKEN_SUBPROTOCOL_PREFIX.length) return p.slice(TOKEN_SUBPROTOCOL_PREFIX.length)
  }
  return undefined
}

/** The sid a reconnecting client asks to restore; only extended-protocol wires that can restore look. */
function restoreSidOf(wire: Wire, request: WireRequest): string | undefined {
  if (!wire.info.extended || !wire.info.restorable) return undefined
  const header = request.headers['x-anycable-restore-sid']
  return (Array.isArray(header) ? header[0] : header) || request.url.searchParams.get('sid') || undefined
}
