import type { KeyValueStore } from './broker.js'
import type { RedisClient } from './redis-connect.js'
import type { RedisKeys } from './redis-keys.js'

/** A KeyValueStore as Redis strings with a PX expiry; take is GETDEL, atomic on the server. */
export class RedisStore implements KeyValueStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly namespace: string,
    private readonly ttlMs: number,
    /** Maps client errors to BrokerUnavailable. */
    private readonly guard: <T>(p: Promise<T>) => Promise<T>,
  ) {}

  async get(key: string): Promise<string | undefined> {
    return (await this.guard(this.redis.get(this.keys.kv(this.namespace, key)))) ?? undefined
  }

  async set(key: string, value: string): Promise<void> {
    await this.guard(this.redis.set(this.keys.kv(this.namespace, key), value, 'PX', Math.max(1, Math.round(this.ttlMs))))
  }

  async take(key: string): Promise<string | undefined> {
    return (await this.guard(this.redis.getdel(this.keys.kv(this.namespace, key)))) ?? undefined
  }

  async delete(key: string): Promise<void> {
    await this.guard(this.redis.del(this.keys.kv(this.namespace, key)))
  }
}
