import type { PreparedBroadcast } from '../framing/prepared-broadcast.js'
import type { Subscriber } from '../hub/subscriber.js'
import type { StreamMessage, StreamPosition } from '../protocol/messages.js'
import type { Connection } from './connection.js'

/** Said by whoever opens a subscription for one stream's life (a job's stream over SSE): its last message. */
export type StreamEnd = (message: StreamMessage) => boolean

/**
 * One connection's interest in one stream under one channel identifier. It remembers the last
 * position delivered, so a message is never delivered twice and a skipped one is noticed, and can
 * hold live messages while history for the same stream is being replayed.
 */
export class Subscription implements Subscriber {
  lastEpoch = ''
  lastOffset = 0
  /** Live messages held while history is in flight; null when delivering directly. */
  held: PreparedBroadcast[] | null = null
  dataHead: string | undefined = undefined
  /** Until it resolves the broker does not deliver this stream yet (hub.subscribe). */
  ready: Promise<void> | undefined = undefined
  /** Its stream has ended (an `endsWith` message went out). */
  ended = false

  constructor(
    readonly connection: Connection,
    readonly identifier: string,
    readonly stream: string,
    readonly endsWith?: StreamEnd,
  ) {}

  deliver(prepared: PreparedBroadcast): void {
    this.connection.deliver(this, prepared)
  }

  checkTop(top: StreamPosition): void {
    this.connection.checkTop(this, top)
  }

  fail(err: unknown): void {
    this.connection.failed(err)
  }

  /** True when this message is not older than (or equal to) what was already delivered. */
  isNew(epoch: string, offset: number): boolean {
    return epoch !== this.lastEpoch || offset > this.lastOffset
  }

  advance(epoch: string, offset: number): void {
    this.lastEpoch = epoch
    this.lastOffset = offset
  }
}
