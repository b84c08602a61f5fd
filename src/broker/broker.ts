import type { StreamMessage, StreamPosition } from '../protocol/messages.js'

/** Why a history request cannot be served; the client gets `reject_history` (or 410 on the job poll). */
export class HistoryUnavailable extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'HistoryUnavailable'
  }
}

/** The broker cannot be reached (a network broker that is down); publishes answer 503. */
export class BrokerUnavailable extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'BrokerUnavailable'
  }
}

/** One message to publish: `data` is canonical JSON text. */
export interface Publication {
  readonly stream: string
  readonly data: string
}

/** Which kept messages `history` returns. */
export interface HistoryQuery {
  /**
   * Messages after this position. Unservable (HistoryUnavailable) when its epoch is not the
   * stream's, its offset is beyond the top, or messages right after it are no longer kept.
   */
  readonly after?: StreamPosition
  /** Unix milliseconds: kept messages accepted at or after it (ignored when `after` is given). */
  readonly sinceMs?: number
  /**
   * At most this many messages, the oldest first (default: every kept one that matches); 0 asks
   * only for the top position. Without `after` or `sinceMs`, no messages at all: the top only.
   */
  readonly limit?: number
}

/** Kept messages and where the stream stands, read together, so there is no racy second call. */
export interface History {
  readonly messages: StreamMessage[]
  /**
   * The stream's latest position: offset 0 with a fresh epoch for a stream nothing was ever
   * published to (that epoch is kept, so the first publish continues it).
   */
  readonly top: StreamPosition
}

export type BrokerState = 'starting' | 'up' | 'down' | 'closed'

/** What a broker reports to the node that owns it. */
export interface BrokerEvents {
  /**
   * A message of a subscribed stream. Per stream in offset order; a network broker's pub/sub is
   * at most once, so subscribers compare offsets and recover a gap from history.
   */
  message(message: StreamMessage): void
  /**
   * The broker's connection came back and every subscribed stream is subscribed again. Messages
   * published meanwhile were not delivered: subscribers check their positions against the top.
   */
  resubscribed?(): void
  /** The broker went up or down (metrics, 503 for publishers, a log line). */
  stateChanged?(state: BrokerState, detail?: string): void
  /** A control message from some node (this one included) on `topic`: see Broker.notify. */
  notified?(topic: string, payload: string): void
}

/**
 * Small values shared by every node, each kept for the store's TTL after it was last set:
 * restorable sessions, long-poll sessions, job records. Redis keys with EXPIRE; a NATS KV bucket
 * (whose TTL is bucket-wide, hence one store per TTL); a Map in memory.
 */
export interface KeyValueStore {
  get(key: string): Promise<string | undefined>
  /** Sets the value and (re)starts its TTL. */
  set(key: string, value: string): Promise<void>
  /** Reads and deletes at once: of two nodes taking the same key, one gets it. */
  take(key: string): Promise<string | undefined>
  delete(key: string): Promise<void>
  /** Values kept, when this process holds them (the memory broker's stores). */
  readonly size?: number
  /** Values pushed out by the store's limits before their TTL. */
  readonly evicted?: number
}

/**
 * Publish, subscribe and history for named streams. Publishing appends to history and fans out
 * as one atomic step per stream, so offsets are dense (1, 2, 3 … per epoch) and ordered.
 * Memory is the default; Redis and NATS JetStream implement the same contract, and one
 * conformance suite (test/broker/conformance.ts) runs against each.
 */
export interface Broker {
  /** `memory`, `redis`, `nats`: for logs and metrics. */
  readonly kind: string
  readonly state: BrokerState
  /** Connects and gets ready; resolves once publishes and subscribes can succeed. */
  start(): Promise<void>
  /** Appends one message and delivers it to subscribers; resolves with its position. Rejects with BrokerUnavailable when down. */
  publish(stream: string, data: string): Promise<StreamMessage>
  /**
   * Several publications, in order (per stream, offsets follow the list). A broker that can
   * finish at once returns the messages themselves (the memory broker: no promise and no await
   * per publication in a 500-message `POST /_broadcast`), others a promise (pipelined).
   */
  publishBatch(publications: readonly Publication[]): StreamMessage[] | Promise<StreamMessage[]>
  /** Kept messages and the top position; rejects with HistoryUnavailable when `after` cannot be served. */
  history(stream: string, query?: HistoryQuery): Promise<History>
  /**
   * Starts delivering the stream's messages through `BrokerEvents.message`. Returns undefined
   * when delivery is live on return (the memory broker), else a promise that resolves once it
   * is (a Redis SUBSCRIBE, a NATS subscription flushed) and rejects when it cannot be. The hub
   * calls it once per stream, when the stream's first local subscriber arrives.
   */
  subscribe(stream: string): Promise<void> | undefined
  /** Stops delivering the stream's messages (its last local subscriber left). */
  unsubscribe(stream: string): void
  /**
   * A store under `namespace` whose values expire `ttlMs` after they were set (one store per
   * namespace; asking again returns the same one). `limits` bound a store held in this process
   * (a network broker's store is bounded by its TTL and the server's memory).
   */
  store(namespace: string, ttlMs: number, limits?: { maxEntries?: number; maxBytes?: number }): KeyValueStore
  /**
   * Sends a control message to every node (at most once, no history): a job's cancel reaching
   * the node that runs it, a long-poll session moving to another node.
   */
  notify(topic: string, payload: string): Promise<void>
  /** Disconnects; pending operations fail. */
  close(): Promise<void>
  /** Streams whose state this broker keeps on this node (for stats). */
  readonly streamCount?: number
}
