import type { KeyValueStore } from './broker.js'

/**
 * A KeyValueStore in this process's memory: values with an expiry, swept lazily on access and
 * by `sweep` (the memory broker's shared timer), never a timer per key.
 */
export class MemoryStore implements KeyValueStore {
  private readonly entries = new Map<string, { value: string; expiresAt: number }>()

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  async get(key: string): Promise<string | undefined> {
    return this.live(key)?.value
  }

  async set(key: string, value: string): Promise<void> {
    this.entries.set(key, { value, expiresAt: this.now() + this.ttlMs })
  }

  async take(key: string): Promise<string | undefined> {
    const entry = this.live(key)
    this.entries.delete(key)
    return entry?.value
  }

  async delete(key: string): Promise<void> {
    this.entries.delete(key)
  }

  get size(): number {
    return this.entries.size
  }

  sweep(): void {
    const now = this.now()
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key)
  }

  private live(key: string): { value: string; expiresAt: number } | undefined {
    const entry = this.entries.get(key)
    if (entry && entry.expiresAt <= this.now()) {
      this.entries.delete(key)
      return undefined
    }
    return entry
  }
}
