import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { observe, type ConnectionClose, type ConnectionOpen, type Diagnostics, type H2Timeout, type InputReject, type JobStateChange, type TransportError } from './diagnostics.js'

/** What the metrics read at scrape time: counts kept as plain integers by the parts that own them. */
export interface MetricsSource {
  connectionsByTransport(): Record<string, number | undefined>
  published(): number
  deliveries(): number
  subscriptions(): number
  streams(): number
  gapsRecovered(): number
  brokerUp(): boolean
  brokerReconnects(): number
  longPollSessions(): number
  h2Sessions(): number
  immortalStreams(): number
  /** Jobs by state (this node's, or its queue's), running now, and the queue's workers (0 without one). */
  jobStats(): Promise<{ byState: Record<string, number | undefined>; running: number; workers: number }>
}

const FINAL_JOB_STATES = new Set(['succeeded', 'failed', 'cancelled'])

/** Which rate limit a refusal names (each refusal's message names its option). */
const RATE_LIMIT_OPTION = /--rate-(connections-per-ip|commands-per-connection|api-requests)/
const RATE_LIMITS: Record<string, string> = { 'connections-per-ip': 'connections', 'commands-per-connection': 'commands', 'api-requests': 'api' }
function rateLimitOf(e: InputReject): string {
  if (typeof e.context.limit === 'string') return e.context.limit
  return RATE_LIMITS[RATE_LIMIT_OPTION.exec(e.detail)?.[1] ?? ''] ?? 'other'
}

/**
 * Herald's Prometheus metrics (GET /metrics). Events arrive on the diagnostics channels; counts
 * that change on the hot path (deliveries, publications) are read from their owners when
 * scraped, so a broadcast never touches prom-client.
 */
export class Metrics {
  readonly registry = new Registry()
  private readonly connectionsTotal = this.counter('herald_connections_total', 'Client connections opened', ['transport'])
  private readonly disconnects = this.counter('herald_disconnects_total', 'Client connections ended, by reason', ['reason'])
  private readonly errors = this.counter('herald_errors_total', 'Rejected input, by error code', ['code'])
  private readonly historyRejected = this.counter('herald_history_rejected_total', 'History requests that could not be served')
  private readonly sessionsRestored = this.counter('herald_sessions_restored_total', 'Sessions restored by sid')
  private readonly jobs = this.counter('herald_jobs_total', 'Jobs ended by this process, by final state', ['state'])
  private readonly jobDuration = new Histogram({
    name: 'herald_job_duration_seconds', help: 'Run time of jobs ended by this process (start of the last attempt to the end), by type and final state',
    labelNames: ['type', 'state'], buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800, 3600], registers: [this.registry],
  })
  /** AnyCable's long-polling metric, under its name. */
  private readonly longPollStale = this.counter('long_poll_stale_requests_total', 'Polls for sessions that were already closed')
  private readonly rateLimited = this.counter('herald_rate_limited_total', 'Refusals by a rate limit: connections (new sessions per IP), commands (per connection), api (publish and jobs API per key or IP)', ['limit'])
  private readonly h2Timeouts = this.counter('herald_h2_timeouts_total', 'HTTP/2 streams and connections closed for idleness, an unanswered PING, or a request not received within --request-timeout (kind=request)', ['kind'])
  private readonly unobserve: () => void

  constructor(diagnostics: Diagnostics, source: MetricsSource, options: { defaults?: boolean } = {}) {
    const r = [this.registry]
    new Gauge({
      name: 'herald_connections', help: 'Open client connections', labelNames: ['transport'], registers: r,
      collect() {
        this.reset()
        for (const [transport, n] of Object.entries(source.connectionsByTransport())) this.set({ transport }, n ?? 0)
      },
    })
    this.sampled(Counter, 'herald_messages_published_total', 'Messages published to streams', source.published)
    this.sampled(Counter, 'herald_deliveries_total', 'Messages queued to subscribers (fan-out count)', source.deliveries)
    this.sampled(Gauge, 'herald_subscriptions', 'Active stream subscriptions', source.subscriptions)
    this.sampled(Gauge, 'herald_streams', 'Streams with at least one local subscriber', source.streams)
    this.sampled(Counter, 'herald_history_gaps_total', 'Skipped offsets noticed by subscribers and recovered from history', source.gapsRecovered)
    this.sampled(Gauge, 'herald_broker_up', '1 while the broker is reachable', () => (source.brokerUp() ? 1 : 0))
    this.sampled(Counter, 'herald_broker_reconnects_total', 'Broker reconnects after which every stream was resubscribed', source.brokerReconnects)
    this.sampled(Gauge, 'long_poll_clients_num', 'Active long polling clients', source.longPollSessions)
    this.sampled(Gauge, 'herald_h2_sessions', 'Open HTTP/2 connections', source.h2Sessions)
    this.sampled(Gauge, 'herald_h2_immortal_streams', 'HTTP/2 streams exempt from the idle timeouts (half-closed long polls, WebSockets)', source.immortalStreams)
    // One read of the job stats per scrape (a queue's counts are a Redis round trip), shared by three gauges.
    let jobStats: ReturnType<MetricsSource['jobStats']> | undefined
    const readJobStats = () => (jobStats ??= source.jobStats().finally(() => setImmediate(() => { jobStats = undefined })))
    new Gauge({
      name: 'herald_jobs', help: "Jobs by state: this node's (in-process jobs), or the queue's with --jobs bullmq", labelNames: ['state'], registers: r,
      async collect() {
        const { byState } = await readJobStats()
        this.reset()
        for (const [state, n] of Object.entries(byState)) this.set({ state }, n ?? 0)
      },
    })
    new Gauge({
      name: 'herald_jobs_running', help: 'Jobs running now: handlers in this process, or active in the queue with --jobs bullmq', registers: r,
      async collect() { this.set((await readJobStats()).running) },
    })
    new Gauge({
      name: 'herald_job_workers', help: 'Workers connected to the jobs queue (--jobs bullmq; 0 without one)', registers: r,
      async collect() { this.set((await readJobStats()).workers) },
    })
    if (options.defaults) collectDefaultMetrics({ register: this.registry })

    this.unobserve = observe(diagnostics, {
      connectionOpen: (e: ConnectionOpen) => this.connectionsTotal.inc({ transport: e.transport }),
      connectionClose: (e: ConnectionClose) => this.disconnects.inc({ reason: e.reason.reason }),
      inputReject: (e: InputReject) => {
        this.errors.inc({ code: e.code })
        if (e.code === 'HERALD_ERR_SESSION_EXPIRED') this.longPollStale.inc()
        else if (e.code === 'HERALD_ERR_RATE_LIMITED') this.rateLimited.inc({ limit: rateLimitOf(e) })
      },
      subscriptionReject: () => this.errors.inc({ code: 'HERALD_ERR_SUBSCRIPTION_REJECTED' }),
      historyReject: () => this.historyRejected.inc(),
      sessionRestore: () => this.sessionsRestored.inc(),
      requestFail: () => this.errors.inc({ code: 'HERALD_ERR_INTERNAL' }),
      transportError: (e: TransportError) => {
        if (e.kind === 'http-client') this.errors.inc({ code: 'HERALD_ERR_BAD_REQUEST' })
      },
      h2Timeout: (e: H2Timeout) => this.h2Timeouts.inc({ kind: e.kind }),
      jobState: (e: JobStateChange) => {
        if (!FINAL_JOB_STATES.has(e.state)) return
        this.jobs.inc({ state: e.state })
        if (e.durationMs !== undefined) this.jobDuration.observe({ type: e.type, state: e.state }, e.durationMs / 1000)
      },
    })
  }

  /** The worker of a `--workers` primary: `render` answers with every worker's metrics, summed by the primary. */
  private cluster: { send: (message: unknown) => void; on: (event: 'message', listener: (message: any) => void) => void; off: (event: 'message', listener: (message: any) => void) => void } | undefined
  private clusterRequests = 0

  /**
   * Joins the metrics of the other `--workers` processes: prom-client's aggregation in the
   * primary collects this registry, and `render` asks the primary for the sum.
   */
  shareWithCluster(channel: NonNullable<Metrics['cluster']>, requestType: string): void {
    AggregatorRegistry.setRegistries([this.registry])
    // Constructing one installs prom-client's answer to the primary's collection requests.
    new AggregatorRegistry()
    this.cluster = channel
    this.clusterType = requestType
  }

  private clusterType = ''

  /** The text `GET /metrics` answers with, and its content type. */
  async render(): Promise<{ text: string; contentType: string }> {
    const cluster = this.cluster
    if (!cluster) return { text: await this.registry.metrics(), contentType: this.registry.contentType }
    const id = ++this.clusterRequests
    return new Promise((resolve, reject) => {
      const onMessage = (message: { type?: string; id?: number; text?: string; contentType?: string; error?: string }) => {
        if (message?.type !== this.clusterType || message.id !== id) return
        clearTimeout(timer)
        cluster.off('message', onMessage)
        if (message.error !== undefined) reject(new Error(message.error))
        else resolve({ text: message.text ?? '', contentType: message.contentType ?? this.registry.contentType })
      }
      const timer = setTimeout(() => {
        cluster.off('message', onMessage)
        reject(new Error('the primary did not answer with the workers\' metrics'))
      }, 5000)
      cluster.on('message', onMessage)
      cluster.send({ type: this.clusterType, id })
    })
  }

  /** Stops listening to the node's events (the Herald closed). */
  close(): void {
    this.unobserve()
  }

  private counter(name: string, help: string, labelNames: string[] = []): Counter<string> {
    return new Counter({ name, help, labelNames, registers: [this.registry] })
  }

  /** A metric whose value is read from its owner at scrape time. */
  private sampled(kind: typeof Counter | typeof Gauge, name: string, help: string, read: () => number): void {
    if (kind === Gauge) {
      new Gauge({ name, help, registers: [this.registry], collect() { this.set(read()) } })
    } else {
      new Counter({ name, help, registers: [this.registry], collect() { this.reset(); this.inc(read()) } })
    }
  }
}
