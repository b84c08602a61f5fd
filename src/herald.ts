import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { AddressInfo, Server } from 'node:net'
import type { Broker, BrokerEvents } from './broker/broker.js'
import { createBroker } from './broker/create-broker.js'
import { loadConfig, type LoadSources } from './config/load.js'
import type { HeraldConfig } from './config/schema.js'
import { Core } from './core/core.js'
import type { TransportName } from './core/wire.js'
import { RateLimiter } from './auth/rate-limit.js'
import { Cors } from './http/cors.js'
import { OriginPolicy } from './http/origin.js'
import { Router } from './http/router.js'
import { Hub } from './hub/hub.js'
import type { JobState, JobTypeDefinition } from './jobs/job.js'
import type { JobManager } from './jobs/job-manager.js'
import { createJobManager } from './jobs/setup.js'
import { addJobStreamRoutes } from './jobs/job-routes.js'
import { addJobRoutes } from './jobs/jobs-api.js'
import { Diagnostics } from './observability/diagnostics.js'
import { createLogger, logEvents, type HeraldLogger } from './observability/logger.js'
import { Metrics } from './observability/metrics.js'
import { addClientBundleRoute } from './server/client-bundle.js'
import { http1Timeouts } from './server/http-server.js'
import { defaultMaxSessions, openFileLimit } from './server/limits.js'
import { Listener, listenerSpecs } from './server/listeners.js'
import { addPublishRoute } from './server/publish-api.js'
import { HttpTransports } from './transport/http-transports.js'
import { WebSocketTransport } from './transport/websocket.js'

export interface HeraldOptions extends LoadSources {
  /** A ready configuration; when absent it is loaded from argv/env/overrides. */
  config?: Readonly<HeraldConfig>
  logger?: HeraldLogger
  /** A broker of the caller's own; by default the one `--broker` names (memory, redis, nats). */
  createBroker?: (events: BrokerEvents, config: Readonly<HeraldConfig>) => Broker
  /** Default process metrics (CPU, memory, event loop) on /metrics. */
  defaultMetrics?: boolean
}

export interface HeraldStats {
  connections: { total: number; byTransport: Partial<Record<TransportName, number>> }
  subscriptions: number
  /** Streams with at least one local subscriber. */
  streams: number
  /** Disconnected sessions kept for restore (`--sessions-ttl`) in this process (a network broker keeps them itself). */
  restorableSessions: number
  longPoll: { sessions: number; heldPolls: number }
  jobPoll: { heldPolls: number }
  /** Pending hold deadlines of the HTTP transports (held polls, flush windows, keepalive clocks). */
  deadlines: number
  h2: { sessions: number; immortalStreams: number }
  /** Streams whose state the broker keeps on this node (the memory broker: their history). */
  broker: { streams: number }
  /** Jobs this node knows, by state. */
  jobs: Partial<Record<JobState, number>>
}

export interface ClientInfo {
  sid: string
  transport: TransportName
  httpVersion: '1.1' | '2'
  remoteAddress: string | undefined
  identifiers: string[]
}

const DEMO_PAGE = new URL('../demo/index.html', import.meta.url)
const DEMO_ICON = new URL('../demo/favicon.svg', import.meta.url)

/**
 * The composition root: configuration → diagnostics (logs, metrics) → broker → hub → core →
 * transports and APIs → listeners. One instance is one Herald node.
 */
export class Herald {
  readonly config: Readonly<HeraldConfig>
  readonly log: HeraldLogger
  /** This node's observations; subscribe through observability/diagnostics.ts's `observe`. */
  readonly diagnostics = new Diagnostics()
  readonly metrics: Metrics
  readonly hub: Hub
  readonly core: Core
  readonly jobs: JobManager
  readonly router = new Router()
  readonly ws: WebSocketTransport
  /** SSE, NDJSON, session long polling and the generic openers the jobs use. */
  readonly http: HttpTransports
  /** Every listener: the main one (top-level host/port/TLS) first, then `listeners` ("virtual hosts"). */
  readonly listeners: Listener[]
  /** The main listener's bound server (a TLS server, or the cleartext h1/h2c sniffer). */
  readonly server: Server
  readonly streamsSecret: string
  private readonly stopLogging: () => void

  constructor(options: HeraldOptions = {}) {
    const config = (this.config = options.config ?? loadConfig(options))
    this.log = options.logger ?? createLogger(config.logLevel, undefined, config.logFormat)
    this.stopLogging = logEvents(this.diagnostics, this.log)
    this.streamsSecret = config.streamsSecret || randomBytes(32).toString('hex')
    const create = options.createBroker ?? createBroker
    this.hub = new Hub((events) => create(events, config), this.diagnostics, config.maxJsonDepth)
    this.core = new Core(this.hub, {
      outboxBytes: config.outboxBytes,
      sessionsTtlMs: config.sessionsTtl * 1000,
      sessionsMaxEntries: config.sessionsMaxEntries,
      sessionsMaxBytes: config.sessionsMaxBytes,
      pingIntervalMs: config.pingInterval * 1000,
      inactivityTimeoutMs: config.inactivityTimeout * 1000,
      maxLifetimeMs: config.maxLifetime * 1000,
      maxSessions: config.maxSessions || defaultMaxSessions(),
      publicStreams: config.publicStreams,
      streamsSecret: this.streamsSecret,
      jwt: {
        secret: config.jwtSecret,
        // A PEM given inline, or the file that holds it.
        publicKey: config.jwtPublicKey.includes('-----BEGIN') || !config.jwtPublicKey ? config.jwtPublicKey : readFileSync(config.jwtPublicKey, 'utf8'),
        jwksUrl: config.jwtJwksUrl,
        audience: config.jwtAudience,
        issuer: config.jwtIssuer,
        clockToleranceMs: config.jwtClockTolerance * 1000,
      },
      maxSubscriptions: config.maxSubscriptions,
      commandLimits: { maxDepth: config.maxJsonDepth, maxIdentifierLength: config.maxIdentifierLength },
      rates: { connectionsPerIp: config.rateConnectionsPerIp, commandsPerConnection: config.rateCommandsPerConnection },
    }, this.diagnostics)
    this.jobs = createJobManager(this.hub, config, this.diagnostics)
    this.core.addHooks(this.jobs)
    const origins = new OriginPolicy(config.allowedOrigins)
    const cors = new Cors(origins)
    this.ws = new WebSocketTransport(this.core, this.diagnostics, {
      path: config.path,
      maxMessageSize: config.maxMessageSize,
      ignoreEncodingErrors: config.ignoreEncodingErrors,
      compression: config.wsCompression,
      kaTimeMs: config.kaTime * 1000,
      origins,
    })
    this.addRoutes(cors)
    this.http = new HttpTransports(this.router, this.core, cors, {
      sse: config.sse,
      poll: config.poll,
      maxBodyBytes: config.maxBodyBytes,
      longPoll: {
        path: config.pollPath,
        pollIntervalMs: config.pollInterval * 1000,
        pollFlushIntervalMs: config.pollFlushInterval * 1000,
        pollMaxRequestSize: config.pollMaxRequestSize,
        pollKeepaliveTimeoutMs: config.pollKeepaliveTimeout * 1000,
        // With a broker shared by several nodes, any node answers any poll.
        shared: this.hub.broker.kind !== 'memory',
      },
    })
    addJobStreamRoutes(this.router, this.jobs, this.http, {
      streamsSecret: this.streamsSecret,
      pollTimeoutMs: config.jobPollTimeout * 1000,
      pollMaxTimeoutMs: config.jobPollMaxTimeout * 1000,
    })
    const deps = { diagnostics: this.diagnostics, router: this.router, ws: this.ws, timeouts: http1Timeouts(config) }
    this.listeners = listenerSpecs(config).map((spec) => new Listener(spec, deps))
    this.server = this.listeners[0].server
    this.metrics = new Metrics(this.diagnostics, {
      connectionsByTransport: () => this.core.clients.countByTransport(),
      published: () => this.hub.counters.published,
      deliveries: () => this.hub.counters.deliveries,
      subscriptions: () => this.hub.counters.subscriptions,
      streams: () => this.hub.streamCount,
      gapsRecovered: () => this.hub.counters.gapsRecovered,
      brokerUp: () => this.hub.broker.state === 'up',
      brokerReconnects: () => this.hub.counters.brokerReconnects,
      longPollSessions: () => this.http.longPoll?.size ?? 0,
      h2Sessions: () => this.h2Counts().sessions,
      immortalStreams: () => this.h2Counts().immortalStreams,
      jobStats: () => this.jobs.stats(),
    }, { defaults: options.defaultMetrics })
  }

  /** Registers a job type that runs in this process. */
  defineJob<I, R>(type: string, definition: JobTypeDefinition<I, R>): this {
    this.jobs.define(type, definition)
    return this
  }

  /**
   * What this node holds right now, for operators and tests: connections by transport,
   * subscriptions, held polls, restorable sessions, pending hold deadlines, HTTP/2 connections and
   * immortal streams, streams the broker keeps, jobs by state. Counts, no walk over subscribers.
   */
  stats(): HeraldStats {
    return {
      connections: { total: this.core.clients.size, byTransport: this.core.clients.countByTransport() },
      subscriptions: this.hub.counters.subscriptions,
      streams: this.hub.streamCount,
      restorableSessions: this.core.sessions.size ?? 0,
      longPoll: { sessions: this.http.longPoll?.size ?? 0, heldPolls: this.http.longPoll?.heldCount ?? 0 },
      jobPoll: { heldPolls: this.http.cursorPolls.heldCount },
      deadlines: this.http.deadlines.size,
      h2: this.h2Counts(),
      broker: { streams: this.hub.broker.streamCount ?? 0 },
      jobs: this.jobs.countByState(),
    }
  }

  /** The connected clients (sid, transport, HTTP version, remote address, subscribed identifiers); O(connections). */
  clients(): ClientInfo[] {
    return [...this.core.clients.all].map((c) => ({
      sid: c.sid,
      transport: c.transport,
      httpVersion: c.wire.info.httpVersion,
      remoteAddress: c.remoteAddress,
      identifiers: c.identifiers,
    }))
  }

  /** Local subscribers of one stream (every identifier). */
  subscriberCount(stream: string): number {
    return this.hub.subscriberCount(stream)
  }

  /** Publishes to a stream from code; resolves with the message's position. */
  publish(stream: string, data: unknown) {
    return this.hub.publish(stream, data)
  }

  async listen(): Promise<AddressInfo> {
    await this.hub.broker.start()
    await this.jobs.startServices()
    this.core.start()
    const addresses: AddressInfo[] = []
    for (const l of this.listeners) addresses.push(await l.listen())
    const c = this.config
    this.log.notice(
      {
        url: this.url, urls: this.listeners.map((l) => l.url), wsPath: c.path, broker: this.hub.broker.kind,
        maxSessions: this.core.options.maxSessions, openFileLimit: openFileLimit(),
        publicStreams: c.publicStreams, historyLimit: c.historyLimit, historyTtl: c.historyTtl,
      },
      'herald listening',
    )
    if (!c.streamsSecret) this.log.notice('no --streams-secret: signed stream names are signed with a random per-process secret')
    if (!c.broadcastKey) this.log.notice('no --broadcast-key: only loopback clients may publish')
    if (c.kaProbes || c.kaInterval) {
      this.log.warn('--ka-probes and --ka-interval cannot be set per socket on Node 20; the kernel settings (net.ipv4.tcp_keepalive_probes/intvl) apply')
    }
    return addresses[0]
  }

  /** Base URL of the main listener (`http://` or `https://`), once listening. */
  get url(): string {
    return this.listeners[0].url
  }

  /** Graceful stop: `server_restart` to every client, jobs cancelled, listeners closed. */
  async close(graceMs = 2000): Promise<void> {
    this.log.notice('herald shutting down')
    // Jobs running in this process end first, so their `cancelled` reaches subscribers before server_restart.
    await this.jobs.close()
    this.core.shutdown()
    this.http.shutdown()
    // Clients get `graceMs` to read the final disconnect and answer the close frame; then each
    // listener destroys what is left.
    const timer = setTimeout(() => this.ws.close(), graceMs)
    await Promise.all(this.listeners.map((l) => l.close(graceMs)))
    clearTimeout(timer)
    this.ws.close()
    this.http.close()
    await this.hub.broker.close()
    this.metrics.close()
    this.stopLogging()
  }

  private h2Counts(): { sessions: number; immortalStreams: number } {
    let sessions = 0
    let immortalStreams = 0
    for (const l of this.listeners) {
      const counts = l.h2Counts()
      sessions += counts.sessions
      immortalStreams += counts.immortalStreams
    }
    return { sessions, immortalStreams }
  }

  private addRoutes(cors: Cors): void {
    const c = this.config
    const r = this.router
    r.add('GET', '/health', (_req, res) => {
      // Which node (or --workers process) answered: behind a load balancer an operator can tell.
      res.writeHead(200, { 'content-type': 'text/plain', 'x-herald-node': this.core.nodeId })
      res.end('OK')
    })
    r.add('GET', '/metrics', async (_req, res) => {
      const { text, contentType } = await this.metrics.render()
      res.writeHead(200, { 'content-type': contentType })
      res.end(text)
    })
    if (c.demo) {
      const escape = (v: string) => v.replace(/[&"<>]/g, (ch) => `&#${ch.charCodeAt(0)};`)
      const page = readFileSync(DEMO_PAGE, 'utf8').replace('<head>', `<head>\n<meta name="cable-url" content="${escape(c.path)}">`)
      r.add('GET', '/', (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' })
        res.end(page)
      })
      // Browsers ask every site for /favicon.ico; the demo page names it too (a 404 on each load otherwise).
      const icon = readFileSync(DEMO_ICON)
      r.add('GET', '/favicon.ico', (_req, res) => {
        res.writeHead(200, { 'content-type': 'image/svg+xml', 'cache-control': 'max-age=86400' })
        res.end(icon)
      })
    }
    addClientBundleRoute(r)
    // One budget per key or IP for both APIs.
    const apiRate = c.rateApiRequests > 0 ? new RateLimiter<string>({ ratePerSec: c.rateApiRequests }) : undefined
    addPublishRoute(r, this.hub, cors, { broadcastKey: c.broadcastKey, maxBodyBytes: c.maxBodyBytes, maxJsonDepth: c.maxJsonDepth, apiRate })
    addJobRoutes(r, this.jobs, cors, { maxBodyBytes: c.maxBodyBytes, maxJsonDepth: c.maxJsonDepth, broadcastKey: c.broadcastKey, streamsSecret: this.streamsSecret, apiRate })
  }
}

export function createHerald(options: HeraldOptions = {}): Herald {
  return new Herald(options)
}
