import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { AddressInfo, Server } from 'node:net'
import { MemoryBroker } from './broker/memory-broker.js'
import type { Broker, BrokerListener } from './broker/broker.js'
import { loadConfig, type LoadSources } from './config/load.js'
import type { HeraldConfig } from './config/schema.js'
import { Hub } from './hub/hub.js'
import { demoJob } from './jobs/demo-job.js'
import type { JobTypeDefinition } from './jobs/job.js'
import { JobManager } from './jobs/job-manager.js'
import { addJobRoutes } from './jobs/jobs-api.js'
import { createLogger, type HeraldLogger } from './observability/logger.js'
import { Metrics } from './observability/metrics.js'
import { addBroadcastRoute } from './server/broadcast-api.js'
import { addClientBundleRoute } from './server/client-bundle.js'
import { Listener, listenerSpecs } from './server/listeners.js'
import { defaultMaxSessions, openFileLimit } from './server/limits.js'
import { Router } from './server/router.js'
import { addHttpTransports, type HttpTransports } from './transport/http-transports.js'
import { OriginPolicy } from './transport/origin.js'
import { WebSocketTransport } from './transport/websocket.js'

export interface HeraldOptions extends LoadSources {
  /** A ready configuration; when absent it is loaded from argv/env/overrides. */
  config?: Readonly<HeraldConfig>
  logger?: HeraldLogger
  /** Another broker (Redis, NATS); the in-memory one by default. */
  createBroker?: (listener: BrokerListener, config: Readonly<HeraldConfig>) => Broker
  /** Default process metrics (CPU, memory, event loop) on /metrics. */
  defaultMetrics?: boolean
}

const DEMO_PAGE = new URL('../demo/index.html', import.meta.url)

/**
 * The composition root: configuration → logging and metrics → broker → hub → transports and
 * APIs → HTTP server. One instance is one Herald node.
 */
export class Herald {
  readonly config: Readonly<HeraldConfig>
  readonly log: HeraldLogger
  readonly metrics: Metrics
  readonly hub: Hub
  readonly jobs: JobManager
  readonly router = new Router()
  readonly ws: WebSocketTransport
  /** SSE, NDJSON, session long polling and the per-job poll. */
  readonly http: HttpTransports
  /** Every listener: the main one (top-level host/port/TLS) first, then `listeners` ("virtual hosts"). */
  readonly listeners: Listener[]
  /** The main listener's bound server (a TLS server, or the cleartext h1/h2c sniffer). */
  readonly server: Server
  readonly streamsSecret: string

  constructor(options: HeraldOptions = {}) {
    const config = (this.config = options.config ?? loadConfig(options))
    this.log = options.logger ?? createLogger(config.logLevel)
    this.metrics = new Metrics({ defaults: options.defaultMetrics })
    this.streamsSecret = config.streamsSecret || randomBytes(32).toString('hex')
    const brokerFactory = options.createBroker ?? ((listener: BrokerListener) =>
      new MemoryBroker(listener, { historyLimit: config.historyLimit, historyTtlMs: config.historyTtl * 1000 }))
    this.hub = new Hub(
      {
        pingInterval: config.pingInterval,
        outboxBytes: config.outboxBytes,
        sessionsTtl: config.sessionsTtl,
        inactivityTimeout: config.inactivityTimeout,
        maxLifetime: config.maxLifetime,
        maxSessions: config.maxSessions || defaultMaxSessions(),
        publicStreams: config.publicStreams,
        streamsSecret: this.streamsSecret,
        jwtSecret: config.jwtSecret,
      },
      { createBroker: (listener) => brokerFactory(listener, config), metrics: this.metrics, log: this.log },
    )
    this.jobs = new JobManager(this.hub, { ttlMs: config.jobsTtl * 1000, log: this.log, metrics: this.metrics })
    this.jobs.define('demo', demoJob)
    this.jobs.define('external', { description: 'driven by an outside worker via POST /jobs/:id/progress' })
    this.hub.addHooks(this.jobs)
    this.ws = new WebSocketTransport(this.hub, {
      path: config.path,
      maxMessageSize: config.maxMessageSize,
      ignoreEncodingErrors: config.ignoreEncodingErrors,
      kaTime: config.kaTime,
      origins: new OriginPolicy(config.allowedOrigins),
    })
    this.addRoutes()
    this.http = addHttpTransports(this.router, {
      hub: this.hub, jobs: this.jobs, config, origins: new OriginPolicy(config.allowedOrigins), streamsSecret: this.streamsSecret,
    })
    const deps = { hub: this.hub, router: this.router, ws: this.ws }
    this.listeners = listenerSpecs(config).map((spec) => new Listener(spec, deps, this.log))
    this.server = this.listeners[0].server
  }

  /** Registers a job type that runs in this process. */
  defineJob<I, R>(type: string, definition: JobTypeDefinition<I, R>): this {
    this.jobs.define(type, definition)
    return this
  }

  /** Publishes to a stream from code; resolves with the message's position. */
  publish(stream: string, data: unknown) {
    return this.hub.publish(stream, data)
  }

  async listen(): Promise<AddressInfo> {
    this.hub.start()
    const addresses: AddressInfo[] = []
    for (const l of this.listeners) addresses.push(await l.listen())
    const c = this.config
    this.log.notice(
      {
        url: this.url, urls: this.listeners.map((l) => l.url), wsPath: c.path, maxSessions: this.hub.options.maxSessions, openFileLimit: openFileLimit(),
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
    this.jobs.close()
    this.hub.shutdown()
    // Clients get `graceMs` to read the final disconnect and answer the close frame; then each
    // listener destroys what is left.
    const timer = setTimeout(() => this.ws.close(), graceMs)
    await Promise.all(this.listeners.map((l) => l.close(graceMs)))
    clearTimeout(timer)
    this.ws.close()
    this.http.close()
    await this.hub.broker.close()
  }

  private addRoutes(): void {
    const c = this.config
    const r = this.router
    r.add('GET', '/health', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.end('OK')
    })
    r.add('GET', '/metrics', async (_req, res) => {
      const body = await this.metrics.registry.metrics()
      res.writeHead(200, { 'content-type': this.metrics.registry.contentType })
      res.end(body)
    })
    if (c.demo) {
      const escape = (v: string) => v.replace(/[&"<>]/g, (ch) => `&#${ch.charCodeAt(0)};`)
      const page = readFileSync(DEMO_PAGE, 'utf8').replace('<head>', `<head>\n<meta name="cable-url" content="${escape(c.path)}">`)
      r.add('GET', '/', (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' })
        res.end(page)
      })
    }
    addClientBundleRoute(r)
    addBroadcastRoute(r, this.hub, { broadcastKey: c.broadcastKey, maxBodyBytes: c.maxBodyBytes })
    addJobRoutes(r, this.jobs, { maxBodyBytes: c.maxBodyBytes, broadcastKey: c.broadcastKey, streamsSecret: this.streamsSecret })
  }
}

export function createHerald(options: HeraldOptions = {}): Herald {
  return new Herald(options)
}
