import type { StreamMessage, StreamPosition } from '../protocol/messages.js'

/** Why a history request cannot be served; the client gets `reject_history` (or 410 on the job poll). */
export class HistoryUnavailable extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'HistoryUnavailable'
  }
}

export type HistorySince =
  | { readonly position: StreamPosition }
  /** Unix milliseconds: every kept message accepted at or after it. */
  | { readonly sinceMs: number }

/** Receives every message published on a stream this node subscribed to, in offset order. */
export type BrokerListener = (message: StreamMessage) => void

/**
 * Publish, subscribe and history for named streams. Publishing appends to history and fans out
 * as one atomic step per stream, so offsets are dense and ordered. Memory is the default; Redis
 * and NATS implement the same contract (test/broker/conformance.ts).
 */
export interface Broker {
  /** Appends `data` (canonical JSON text) and delivers it to listeners; resolves with its position. */
  publish(stream: string, data: string): Promise<StreamMessage>
  /**
   * The same, appended and delivered before it returns; only brokers that can (the memory broker).
   * Lets `POST /_broadcast` skip one await per publication (bench jobs).
   */
  publishSync?(stream: string, data: string): StreamMessage
  /** Kept messages after a position or since a time; rejects with HistoryUnavailable when that is impossible. */
  history(stream: string, since: HistorySince): Promise<StreamMessage[]>
  /** The stream's latest position (offset 0 when empty), or undefined when nothing is known of it. */
  position(stream: string): Promise<StreamPosition | undefined>
  /** Starts delivering the stream's messages to the listener given at construction. */
  subscribe(stream: string): void
  unsubscribe(stream: string): void
  close(): Promise<void>
  /** Streams whose state this broker keeps on this node (for stats). */
  readonly streamCount?: number
}
