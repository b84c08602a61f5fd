import type { KeyValueStore } from '../broker/broker.js'

/** What a disconnected session leaves behind so that a reconnect with its sid can pick it up. */
export interface SessionState {
  /** Channel identifier → the streams it was subscribed to. */
  readonly channels: ReadonlyArray<{ identifier: string; streams: readonly string[] }>
}

/**
 * Disconnected sessions kept for `--sessions-ttl`, each restorable once (AnyCable's session
 * cache), in the broker's store: in memory on one node, in Redis or NATS KV across nodes, so a
 * client that reconnects to another node is restored there. A state bigger than `maxStateBytes`
 * is not kept (a flood of subscriptions must not become a flood of memory).
 */
export class SessionCache {
  /** States not kept for their size. */
  tooBig = 0

  constructor(
    /** undefined when sessions are not kept at all (`--sessions-ttl 0`). */
    private readonly store: KeyValueStore | undefined,
    private readonly maxStateBytes: number,
  ) {}

  /** Keeps a session's state; resolves once stored (a failure is the caller's to report). */
  async save(sid: string, state: SessionState): Promise<void> {
    if (!this.store) return
    const text = JSON.stringify(state)
    if (text.length > this.maxStateBytes) {
      this.tooBig++
      return
    }
    await this.store.set(sid, text)
  }

  /** Drops a session's state: it may not be restored. */
  async forget(sid: string): Promise<void> {
    await this.store?.delete(sid)
  }

  /** The session's state, removed from the store; undefined when unknown or expired. */
  async take(sid: string): Promise<SessionState | undefined> {
    if (!this.store) return undefined
    const text = await this.store.take(sid)
    return text === undefined ? undefined : (JSON.parse(text) as SessionState)
  }

  /** Sessions kept, when this process holds them (one node on the memory broker). */
  get size(): number | undefined {
    return this.store ? this.store.size : 0
  }

  /** Sessions pushed out early by the store's limits, or not kept for their size. */
  get dropped(): number {
    return this.tooBig + (this.store?.evicted ?? 0)
  }
}
