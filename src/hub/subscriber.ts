import type { PreparedBroadcast } from '../framing/prepared-broadcast.js'
import type { StreamPosition } from '../protocol/messages.js'

/**
 * What the hub's fan-out needs of a subscriber (anycable-go's `HubSession`): the hub declares
 * it, the core's subscriptions implement it, and the hub never imports a connection.
 */
export interface Subscriber {
  readonly stream: string
  /** The channel identifier its messages are framed for; subscribers sharing one share the encoding. */
  readonly identifier: string
  /** `replies.dataHead(identifier)`, made by the first broadcast and reused (one stream per connection means no sharing). */
  dataHead: string | undefined
  /** One broadcast of its stream, in offset order (a network broker may skip some: the subscriber checks). */
  deliver(prepared: PreparedBroadcast): void
  /** After a broker reconnect: where the stream stands now, so a subscriber that missed messages recovers them. */
  checkTop(top: StreamPosition): void
  /** Delivering to it threw: it ends itself (the other subscribers are not affected). */
  fail(err: unknown): void
}
