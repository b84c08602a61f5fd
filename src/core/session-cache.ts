/** What a disconnected session leaves behind so that a reconnect with its sid can pick it up. */
export interface SessionState {
  /** Channel identifier → the streams it was subscribed to. */
  readonly channels: ReadonlyArray<{ identifier: string; streams: readonly string[] }>
}

/**
 * Disconnected sessions kept for `ttlMs`, each restorable once (AnyCable's session cache).
 * Expiry is swept by the clients' shared timer, never a timer per session.
 */
export class SessionCache {
  private readonly entries = new Map<string, { state: SessionState; expiresAt: number }>()

  constructor(private readonly ttlMs: number) {}

  save(sid: string, state: SessionState, now = Date.now()): void {
    if (this.ttlMs <= 0) return
    this.entries.set(sid, { state, expiresAt: now + this.ttlMs })
  }

  /** The session's state, removed from the cache; undefined when unknown or expired. */
  take(sid: string, now = Date.now()): SessionState | undefined {
    const entry = this.entries.get(sid)
    if (!entry) return undefined
    this.entries.delete(sid)
    return entry.expiresAt > now ? entry.state : undefined
  }

  sweep(now = Date.now()): void {
    for (const [sid, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(sid)
  }

  get size(): number {
    return this.entries.size
  }
}
