import type { RateLimiter } from '../auth/rate-limit.js'
import type { StreamAuthorizer } from '../auth/stream-authorizer.js'
import type { Hub } from '../hub/hub.js'
import type { Diagnostics } from '../observability/diagnostics.js'
import type { CommandLimits } from '../protocol/codec.js'
import type { StreamMessage } from '../protocol/messages.js'
import type { Connection } from './connection.js'
import type { SessionState } from './session-cache.js'

/**
 * What every connection of a node shares: handed to each Connection once, so a connection
 * reaches its collaborators explicitly and allocates nothing per client for them.
 */
export interface ConnectionContext {
  readonly hub: Hub
  readonly authorizer: StreamAuthorizer
  readonly diagnostics: Diagnostics
  /** Per-client budget of queued outgoing bytes (over it: too_slow). */
  readonly outboxBytes: number
  /** Most subscriptions one connection may hold. */
  readonly maxSubscriptions: number
  readonly commandLimits: CommandLimits
  /** Commands per connection a second (--rate-commands-per-connection); undefined = no limit. */
  readonly commandRate: RateLimiter<object> | undefined
  /** The stream's current state for a subscriber (StreamHooks.snapshot of every hook). */
  snapshot(stream: string, after?: StreamMessage): Promise<string | undefined> | string | undefined
  /** A connection ended: forget it, and keep its state for restore when `state` is given. */
  ended(conn: Connection, state: SessionState | undefined): void
  /** A connection's channels changed (what a restore would bring back). */
  changed(conn: Connection): void
}
