import type { KeyValueStore } from './broker.js'

export interface MemoryStoreLimits {
  /** Most values kept; the oldest go first beyond it. */
  maxEntries?: number
  /** Most bytes of values kept (UTF-16 length, roughly); the oldest go first beyond it. */
  maxBytes?: number
}

/**
 * A KeyValueStore in this process's memory: values with an expiry, swept lazily on access and
 * by `sweep` (the memory broker's shared timer), never a timer per key. Bounded in entries and
 * bytes: a flood of values (sessions with many subscriptions, say) pushes out the oldest ones
 * instead of growing without limit; `evicted` counts them.
 */
export class MemoryStore implements KeyValueStore {
  /** In insertion order, which is age order: `set` moves a key to the end. */
  private readonly entries = new Map<string, { value: string; expiresAt: number }>()
  private bytes = 0
  evicted = 0

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
    private readonly limits: MemoryStoreLimits = {},
  ) {}

  async get(key: string): Promise<string | undefined> {
    return this.live(key)?.value
  }

  async set(key: string, value: string): Promise<void> {
    this.remove(key)
    this.entries.set(key, { value, expiresAt: this.now() + this.ttlMs })
    this.bytes += value.length
    const { maxEntries = Infinity, maxBytes = Infinity } = this.limits
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= maxEntries && this.bytes <= maxBytes) break
      this.remove(oldest)
      this.evicted++
    }
  }

  async take(key: string): Promise<string | undefined> {
    const entry = this.live(key)
    this.remove(key)
    return entry?.value
  }

  async delete(key: string): Promise<void> {
    this.remove(key)
  }

  get size(): number {
    return this.entries.size
  }

  sweep(): void {
    const now = this.now()
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.remove(key)
  }

  private live(key: string): { value: string; expiresAt: number } | undefined {
    const entry = this.entries.get(key)
    if (entry && entry.expiresAt <= this.now()) {
      this.remove(key)
      return undefined
    }
    return entry
  }

  private remove(key: string): void {
    const entry = this.entries.get(key)
    if (!entry) return
    this.entries.delete(key)
    this.bytes -= entry.value.length
  }
}
