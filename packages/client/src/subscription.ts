import { command, type Position, type Reply } from './codec.js'
import { Emitter } from './emitter.js'

export interface SubscriptionEvents {
  /** A message; `position` is absent for transmissions without one (a job's snapshot). */
  message: (message: any, position: Position | undefined) => void
  /**
   * `reject_subscription`: the server refused the stream (bad signature, not public); the
   * subscription is over. `reject_history`: the stream could not be resumed from its position
   * (history expired or its epoch is gone), so messages may have been missed; it stays live.
   */
  reject: (why: 'reject_subscription' | 'reject_history') => void
}

export interface SubscribeOptions {
  /** Resume right after this position (say, one saved by an earlier page). */
  position?: Position
  /** Unix seconds: also deliver what the stream kept since then. Default: now. */
  since?: number
}

/** What a subscription needs from its client. */
export interface SubscriptionHost {
  _now(): number
  _drop(sub: Subscription): void
}

/**
 * One stream of a client. It keeps the last position of its stream, so whatever wire resumes it
 * asks for exactly what came after, and a message delivered twice (two wires during an upgrade,
 * a replay after a reconnect) is passed on once.
 */
export class Subscription extends Emitter<SubscriptionEvents> {
  /** Last delivered position per stream of this channel. */
  readonly _pos: Record<string, { epoch: string; offset: number }> = {}
  private readonly _since: number

  constructor(
    private readonly _host: SubscriptionHost,
    /** The channel identifier (JSON text). */
    readonly identifier: string,
    options: SubscribeOptions = {},
  ) {
    super()
    const p = options.position
    if (p) this._pos[p.stream] = { epoch: p.epoch, offset: p.offset }
    this._since = options.since ?? _host._now()
  }

  /** The last position delivered (to save and pass as `position` later), if any. */
  get position(): Position | undefined {
    for (const stream in this._pos) return { stream, ...this._pos[stream] }
    return undefined
  }

  /** The `subscribe` or `history` command that resumes this stream where it is. */
  _command(name: 'subscribe' | 'history'): string {
    return command(name, this.identifier, { since: this._since, streams: this._pos })
  }

  _reply(m: Reply): void {
    const type = m.type
    if (type === 'reject_subscription' || type === 'reject_history') {
      if (type === 'reject_subscription') this._host._drop(this)
      return this._emit('reject', type)
    }
    if (type) return
    const stream = m.stream_id
    let position: Position | undefined
    if (stream) {
      const last = this._pos[stream]
      const epoch = m.epoch!
      const offset = m.offset!
      // Only a later offset of the same epoch is new; a new epoch means the stream started over.
      if (last && last.epoch === epoch && offset <= last.offset) return
      this._pos[stream] = { epoch, offset }
      position = { stream, epoch, offset }
    }
    this._emit('message', m.message, position)
  }

  unsubscribe(): void {
    this._host._drop(this)
  }
}
