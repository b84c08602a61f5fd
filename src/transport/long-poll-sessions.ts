import type { KeyValueStore } from '../broker/broker.js'
import type { ChannelPositions } from '../core/connection.js'
import type { Core } from '../core/core.js'
import type { Disconnect } from '../disconnect.js'
import type { LongPollWire } from './long-poll-wire.js'

/** A long-poll session as every node can see it. */
export interface SharedSession {
  readonly sid: string
  /** The node that answered its last poll. */
  readonly node: string
  /** Unix ms after which the session counts as expired (its keepalive, plus a held poll's time). */
  readonly deadline: number
  readonly channels: readonly ChannelPositions[]
  /** Set once the session ended: the reason its next poll hears, wherever it lands. */
  readonly closed?: string
}

const MOVED = 'herald:long-poll:moved'

/**
 * Long-poll sessions without sticky routing. With a network broker each answered poll leaves
 * the session's channels and the position every stream reached in the broker's store; a poll
 * that lands on another node finds it there, takes the session over (the same sid, its channels
 * resumed from those positions: what the client has not seen is replayed from history) and tells
 * the previous node to drop its copy. So any node can answer any poll, and nothing is lost or
 * repeated (nchan and Centrifugo work like this; AnyCable's long polling needs sticky sessions).
 */
export class SharedLongPollSessions {
  private readonly store: KeyValueStore

  constructor(
    private readonly core: Core,
    private readonly times: { keepaliveMs: number; holdMs: number },
    /** A session of this node went on elsewhere: drop it. */
    onMoved: (pollId: string) => void,
  ) {
    // Kept a little past the longest a live session can go unpolled; `deadline` is the real test.
    this.store = core.hub.broker.store('long-poll', times.keepaliveMs + times.holdMs + 10_000)
    core.hub.onNotified(MOVED, (payload) => {
      const { id, node } = JSON.parse(payload) as { id: string; node: string }
      if (node !== core.nodeId) onMoved(id)
    })
  }

  /** After an answer: where the session stands, for whichever node gets its next poll. */
  async save(wire: LongPollWire): Promise<void> {
    const session: SharedSession = {
      sid: wire.conn.sid,
      node: this.core.nodeId,
      deadline: Date.now() + this.times.keepaliveMs + this.times.holdMs,
      channels: wire.conn.positions(),
    }
    await this.store.set(wire.id, JSON.stringify(session))
  }

  /** The session ended here: its next poll, on any node, hears why. */
  async saveClosed(pollId: string, sid: string, reason: Disconnect): Promise<void> {
    const session: SharedSession = { sid, node: this.core.nodeId, deadline: Date.now() + this.times.keepaliveMs, channels: [], closed: reason.reason }
    await this.store.set(pollId, JSON.stringify(session))
  }

  /** A session another node kept, if it is still alive (or ended, with its reason). */
  async load(pollId: string): Promise<SharedSession | undefined> {
    const text = await this.store.get(pollId)
    if (text === undefined) return undefined
    const session = JSON.parse(text) as SharedSession
    return session.deadline < Date.now() && session.closed === undefined ? undefined : session
  }

  /** This node took the session over: the one that had it stops collecting for it. */
  async moved(pollId: string): Promise<void> {
    await this.core.hub.notify(MOVED, JSON.stringify({ id: pollId, node: this.core.nodeId }))
  }
}
