import { pubsub, type Reply } from './codec.js'
import { Controller, type State } from './controller.js'
import { Emitter } from './emitter.js'
import { Job, type JobInfo } from './jobs.js'
import { resolve, type ClientOptions, type Options } from './options.js'
import { Subscription, type SubscribeOptions } from './subscription.js'
import type { TransportName } from './transports/transport.js'

export interface ClientEvents {
  /** The connection state changed, or the transport carrying it, or the reason. */
  state: (state: State, transport: TransportName | undefined, reason: string | undefined) => void
}

/**
 * A Herald client: one connection shared by every subscription, on the first transport that
 * works, resumed from each stream's position after any break. Members whose names start with
 * `_` are internal (the controller's and the subscriptions' side of the client).
 */
export class Client extends Emitter<ClientEvents> {
  /** The options in effect, defaults filled in. */
  readonly o: Options
  state: State = 'disconnected'
  /** The transport in use, or being tried. */
  transport?: TransportName
  /** Why the better transports were not used, or why the connection is down. */
  reason?: string
  readonly _subs = new Map<string, Subscription>()
  _sid?: string
  /** Server clock minus ours, in seconds (learned from pings). */
  _skew = 0
  private readonly _c: Controller

  constructor(options: ClientOptions = {}) {
    super()
    this.o = resolve(options)
    this._c = new Controller(this)
  }

  /** Connects now rather than at the first subscription (SSE and NDJSON wait for one anyway). */
  connect(): void {
    this._c.start()
  }

  /** Follows a public stream (Herald's --public-streams). */
  stream(name: string, options?: SubscribeOptions): Subscription {
    return this._add(pubsub('stream_name', name), options)
  }

  /** Follows a stream by its signed name (`signedStream` of a job, or signed by your backend). */
  signedStream(signed: string, options?: SubscribeOptions): Subscription {
    return this._add(pubsub('signed_stream_name', signed), options)
  }

  /** Starts a job (`POST /jobs`) and follows it. */
  async startJob(type: string, input?: unknown): Promise<Job> {
    return new Job(this, await this._api('/jobs', { type, input }))
  }

  /** Follows an existing job by its id. */
  async job(id: string): Promise<Job> {
    return new Job(this, await this._api(`/jobs/${encodeURIComponent(id)}`))
  }

  /** Closes the connection for good. */
  close(): void {
    this._c.stop('closed', true)
  }

  /** A subscription already made for the same stream is shared. */
  private _add(identifier: string, options?: SubscribeOptions): Subscription {
    let sub = this._subs.get(identifier)
    if (!sub) {
      sub = new Subscription(this, identifier, options)
      this._subs.set(identifier, sub)
      this._c.added(sub)
    }
    return sub
  }

  _drop(sub: Subscription): void {
    if (this._subs.get(sub.identifier) !== sub) return
    this._subs.delete(sub.identifier)
    this._c.removed(sub)
  }

  _now(): number {
    return Math.floor(Date.now() / 1000 + this._skew)
  }

  _url(path: string, sid?: string): string {
    const url = new URL(path, this.o.url)
    for (const [k, v] of Object.entries(this.o.params)) url.searchParams.set(k, v)
    if (sid) url.searchParams.set('sid', sid)
    return url.href
  }

  _deliver(m: Reply): void {
    this._subs.get(m.identifier!)?._reply(m)
  }

  _report(state: State, transport?: TransportName, reason?: string): void {
    if (state === this.state && transport === this.transport && reason === this.reason) return
    this.state = state
    this.transport = transport
    this.reason = reason
    this._emit('state', state, transport, reason)
  }

  /** The jobs HTTP API: JSON in and out; an error status throws with Herald's message. */
  async _api(path: string, body?: unknown): Promise<JobInfo> {
    const res = await this.o.fetch(new URL(path, this.o.url), body === undefined ? {} : {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    const json = await res.json()
    if (!res.ok) throw new Error(json.error?.message ?? `HTTP ${res.status}`)
    return json
  }
}
