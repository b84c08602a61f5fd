import type { PreparedBroadcast } from '../framing/prepared-broadcast.js'
import type { Connection } from './connection.js'

/**
 * One connection's interest in one stream under one channel identifier. It remembers the last
 * position delivered, so a message is never delivered twice, and can hold live messages while
 * history for the same stream is being replayed.
 */
export class Subscription {
  lastEpoch = ''
  lastOffset = 0
  /** Live messages held while history is in flight; null when delivering directly. */
  held: PreparedBroadcast[] | null = null
  /** `replies.dataHead(identifier)`, made at the first broadcast and reused (see Hub.fanOut). */
  dataHead: string | undefined = undefined

  constructor(
    readonly connection: Connection,
    readonly identifier: string,
    readonly stream: string,
  ) {}

  /** True when this message is not older than (or equal to) what was already delivered. */
  isNew(epoch: string, offset: number): boolean {
    return epoch !== this.lastEpoch || offset > this.lastOffset
  }

  advance(epoch: string, offset: number): void {
    this.lastEpoch = epoch
    this.lastOffset = offset
  }
}
