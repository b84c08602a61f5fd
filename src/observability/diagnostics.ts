import dc from 'node:diagnostics_channel'
import type { Disconnect } from '../disconnect.js'
import type { ErrorCode } from '../errors.js'

/**
 * Every observation Herald makes, as named `diagnostics_channel`s (undici's
 * `core/diagnostics.js`): the core publishes, and the logger and the Prometheus metrics
 * subscribe (observability/logger.ts, metrics.ts), as may an application or a test. Each message
 * carries `node`, the Diagnostics of the Herald that made it, so several Heralds in one process
 * (tests, in-process clusters) keep their logs and metrics apart. Hot paths (a broadcast, a
 * delivery) publish nothing: they count in plain integers that the metrics read when scraped.
 */
export const channels = {
  connectionOpen: dc.channel('herald:connection:open'),
  connectionClose: dc.channel('herald:connection:close'),
  sessionRestore: dc.channel('herald:session:restore'),
  inputReject: dc.channel('herald:input:reject'),
  subscriptionReject: dc.channel('herald:subscription:reject'),
  historyReject: dc.channel('herald:history:reject'),
  historyGap: dc.channel('herald:history:gap'),
  commandIgnore: dc.channel('herald:command:ignore'),
  requestFail: dc.channel('herald:request:fail'),
  transportError: dc.channel('herald:transport:error'),
  brokerState: dc.channel('herald:broker:state'),
  brokerError: dc.channel('herald:broker:error'),
  h2Timeout: dc.channel('herald:h2:timeout'),
  jobState: dc.channel('herald:job:state'),
  httpRequest: dc.channel('herald:http:request'),
  notice: dc.channel('herald:notice'),
} as const

export interface ConnectionOpen { node: Diagnostics; sid: string; transport: string; remote: string | undefined }
export interface ConnectionClose { node: Diagnostics; sid: string; transport: string; reason: Disconnect; detail?: string }
export interface SessionRestore { node: Diagnostics; sid: string; from: string; channels: number }
/** Input refused with a catalogued error: a log line at warn and `herald_errors_total{code}`. */
export interface InputReject { node: Diagnostics; code: ErrorCode; detail: string; context: Record<string, unknown> }
export interface SubscriptionReject { node: Diagnostics; sid: string; identifier: string; why: string }
export interface HistoryReject { node: Diagnostics; sid: string; identifier: string; why: string; failed: boolean }
/** A subscriber saw offsets jump (a network broker's pub/sub lost messages) and recovers from history. */
export interface HistoryGap { node: Diagnostics; sid: string; stream: string; after: number; got: number }
export interface CommandIgnore { node: Diagnostics; sid: string; command: string; identifier: string }
/** A request or connection handler failed unexpectedly (500, or a disconnect). */
export interface RequestFail { node: Diagnostics; where: string; err: unknown }
/** A connection-level fault before Herald has a client (TLS handshake, HTTP parse, HTTP/2 session). */
export interface TransportError { node: Diagnostics; kind: string; err: unknown }
export interface BrokerStateChange { node: Diagnostics; kind: string; state: string; detail?: string }
export interface BrokerError { node: Diagnostics; op: string; err: unknown }
/** An HTTP/2 stream or connection closed for idleness, an unanswered PING, or a request body not received within --request-timeout. */
export interface H2Timeout { node: Diagnostics; kind: 'stream' | 'session' | 'ping' | 'request'; remote?: string }
/** A job's transition: `queued`, `running` (an attempt began), `retrying` (an attempt failed, another follows), or a final state. */
export interface JobStateChange { node: Diagnostics; id: string; type: string; state: string; durationMs?: number; error?: string; attempt?: number }
/** Every HTTP request (an upgrade and an extended CONNECT included), as it arrives: for access logs and tests. */
export interface HttpRequestSeen { node: Diagnostics; httpVersion: string; method: string; path: string }
/** Start-up, shutdown and other one-off lines an operator should see. */
export interface Notice { node: Diagnostics; level: 'err' | 'warn' | 'notice' | 'info'; message: string; context: Record<string, unknown> }

/**
 * One Herald's publisher on the shared channels. Passed explicitly to every part that observes
 * something; each method checks `hasSubscribers` first, so an unobserved event costs one branch.
 */
export class Diagnostics {
  connectionOpen(sid: string, transport: string, remote: string | undefined): void {
    if (channels.connectionOpen.hasSubscribers) channels.connectionOpen.publish({ node: this, sid, transport, remote } satisfies ConnectionOpen)
  }

  connectionClose(sid: string, transport: string, reason: Disconnect, detail?: string): void {
    if (channels.connectionClose.hasSubscribers) channels.connectionClose.publish({ node: this, sid, transport, reason, detail } satisfies ConnectionClose)
  }

  sessionRestore(sid: string, from: string, count: number): void {
    if (channels.sessionRestore.hasSubscribers) channels.sessionRestore.publish({ node: this, sid, from, channels: count } satisfies SessionRestore)
  }

  inputReject(code: ErrorCode, detail: string, context: Record<string, unknown> = {}): void {
    if (channels.inputReject.hasSubscribers) channels.inputReject.publish({ node: this, code, detail, context } satisfies InputReject)
  }

  subscriptionReject(sid: string, identifier: string, why: string): void {
    if (channels.subscriptionReject.hasSubscribers) channels.subscriptionReject.publish({ node: this, sid, identifier, why } satisfies SubscriptionReject)
  }

  historyReject(sid: string, identifier: string, why: string, failed = false): void {
    if (channels.historyReject.hasSubscribers) channels.historyReject.publish({ node: this, sid, identifier, why, failed } satisfies HistoryReject)
  }

  historyGap(sid: string, stream: string, after: number, got: number): void {
    if (channels.historyGap.hasSubscribers) channels.historyGap.publish({ node: this, sid, stream, after, got } satisfies HistoryGap)
  }

  commandIgnore(sid: string, command: string, identifier: string): void {
    if (channels.commandIgnore.hasSubscribers) channels.commandIgnore.publish({ node: this, sid, command, identifier } satisfies CommandIgnore)
  }

  requestFail(where: string, err: unknown): void {
    if (channels.requestFail.hasSubscribers) channels.requestFail.publish({ node: this, where, err } satisfies RequestFail)
  }

  transportError(kind: string, err: unknown): void {
    if (channels.transportError.hasSubscribers) channels.transportError.publish({ node: this, kind, err } satisfies TransportError)
  }

  brokerState(kind: string, state: string, detail?: string): void {
    if (channels.brokerState.hasSubscribers) channels.brokerState.publish({ node: this, kind, state, detail } satisfies BrokerStateChange)
  }

  brokerError(op: string, err: unknown): void {
    if (channels.brokerError.hasSubscribers) channels.brokerError.publish({ node: this, op, err } satisfies BrokerError)
  }

  h2Timeout(kind: H2Timeout['kind'], remote?: string): void {
    if (channels.h2Timeout.hasSubscribers) channels.h2Timeout.publish({ node: this, kind, remote } satisfies H2Timeout)
  }

  jobState(id: string, type: string, state: string, durationMs?: number, error?: string, attempt?: number): void {
    if (channels.jobState.hasSubscribers) channels.jobState.publish({ node: this, id, type, state, durationMs, error, attempt } satisfies JobStateChange)
  }

  httpRequest(httpVersion: string, method: string, path: string): void {
    if (channels.httpRequest.hasSubscribers) channels.httpRequest.publish({ node: this, httpVersion, method, path } satisfies HttpRequestSeen)
  }

  notice(level: Notice['level'], message: string, context: Record<string, unknown> = {}): void {
    if (channels.notice.hasSubscribers) channels.notice.publish({ node: this, level, message, context } satisfies Notice)
  }
}

type ChannelName = keyof typeof channels

/**
 * Subscribes `handlers` to the channels they name, for one node's messages only; returns the
 * function that unsubscribes them all (a closed Herald must stop observing).
 */
export function observe(
  node: Diagnostics,
  handlers: { [K in ChannelName]?: (message: any) => void },
): () => void {
  const subscribed: [ChannelName, (message: unknown) => void][] = []
  for (const name of Object.keys(handlers) as ChannelName[]) {
    const handler = handlers[name]!
    const onMessage = (message: unknown) => {
      if ((message as { node?: unknown }).node === node) handler(message)
    }
    channels[name].subscribe(onMessage)
    subscribed.push([name, onMessage])
  }
  return () => {
    for (const [name, onMessage] of subscribed) channels[name].unsubscribe(onMessage)
  }
}
