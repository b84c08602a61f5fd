import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client'

/**
 * Herald's Prometheus metrics. The hot paths only ever add to counters once per broadcast
 * (never per subscriber). Served at GET /metrics.
 */
export class Metrics {
  readonly registry = new Registry()
  readonly connections = new Gauge({ name: 'herald_connections', help: 'Open client sessions', labelNames: ['transport'] as const, registers: [this.registry] })
  readonly connectionsTotal = new Counter({ name: 'herald_connections_total', help: 'Client sessions opened', labelNames: ['transport'] as const, registers: [this.registry] })
  readonly disconnects = new Counter({ name: 'herald_disconnects_total', help: 'Client sessions ended, by reason', labelNames: ['reason'] as const, registers: [this.registry] })
  readonly errors = new Counter({ name: 'herald_errors_total', help: 'Rejected input, by error code', labelNames: ['code'] as const, registers: [this.registry] })
  readonly published = new Counter({ name: 'herald_messages_published_total', help: 'Messages published to streams', registers: [this.registry] })
  readonly deliveries = new Counter({ name: 'herald_deliveries_total', help: 'Messages queued to subscribers (fan-out count)', registers: [this.registry] })
  readonly subscriptions = new Gauge({ name: 'herald_subscriptions', help: 'Active stream subscriptions', registers: [this.registry] })
  readonly streams = new Gauge({ name: 'herald_streams', help: 'Streams with at least one local subscriber', registers: [this.registry] })
  readonly historyRejected = new Counter({ name: 'herald_history_rejected_total', help: 'History requests that could not be served', registers: [this.registry] })
  readonly sessionsRestored = new Counter({ name: 'herald_sessions_restored_total', help: 'Sessions restored by sid', registers: [this.registry] })
  readonly jobs = new Counter({ name: 'herald_jobs_total', help: 'Jobs by final state', labelNames: ['state'] as const, registers: [this.registry] })
  /** AnyCable's long-polling metrics, under their names. */
  readonly longPollClients = new Gauge({ name: 'long_poll_clients_num', help: 'Active long polling clients', registers: [this.registry] })
  readonly longPollStale = new Counter({ name: 'long_poll_stale_requests_total', help: 'Polls for sessions that were already closed', registers: [this.registry] })

  /** HTTP/2 (server/listeners.ts, server/long-lived.ts). */
  readonly h2Sessions = new Gauge({ name: 'herald_h2_sessions', help: 'Open HTTP/2 connections', registers: [this.registry] })
  readonly h2HeldStreams = new Gauge({ name: 'herald_h2_immortal_streams', help: 'HTTP/2 streams exempt from the idle timeouts (half-closed long polls, WebSockets)', registers: [this.registry] })
  readonly h2Timeouts = new Counter({ name: 'herald_h2_timeouts_total', help: 'HTTP/2 streams and connections closed for idleness, or for an unanswered PING', labelNames: ['kind'] as const, registers: [this.registry] })

  constructor(options: { defaults?: boolean } = {}) {
    if (options.defaults) collectDefaultMetrics({ register: this.registry })
  }
}
