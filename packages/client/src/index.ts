import { Client } from './client.js'
import type { ClientOptions } from './options.js'

export { Client, type ClientEvents } from './client.js'
export type { Position } from './codec.js'
export type { State } from './controller.js'
export { Job, JobError, type JobEvent, type JobEvents, type JobInfo, type JobState } from './jobs.js'
export type { ClientOptions, WebSocketClass } from './options.js'
export { Subscription, type SubscribeOptions, type SubscriptionEvents } from './subscription.js'
export type { TransportName } from './transports/transport.js'

/** A Herald client; it connects at its first subscription (or `connect()`). */
export function createClient(options?: ClientOptions): Client {
  return new Client(options)
}
