import type { NatsConnection } from '@nats-io/transport-node'
import { Kvm, type KV } from '@nats-io/kv'
import type { KeyValueStore } from './broker.js'
import { escapeToken } from './nats-names.js'

/**
 * A KeyValueStore as a NATS KV bucket of its own (a bucket's TTL is bucket-wide before
 * nats-server 2.11). The bucket is opened, or made, on first use, and again after a reconnect
 * or when the server says it has no such stream (it lost it: a restart without its data).
 * `take` reads the entry, then deletes it on the condition that it is still that revision: of
 * two takers, one deletes, the other gets nothing.
 */
export class NatsStore implements KeyValueStore {
  private bucket: Promise<KV> | undefined

  constructor(
    /** The broker's connection; none before it started (a store may be asked for earlier). */
    private readonly connection: () => NatsConnection | undefined,
    private readonly name: string,
    private readonly ttlMs: number,
    /** Maps client errors to BrokerUnavailable. */
    private readonly guard: <T>(p: Promise<T>) => Promise<T>,
  ) {}

  async get(key: string): Promise<string | undefined> {
    return this.guard(this.run(async (kv) => {
      const entry = await kv.get(escapeToken(key))
      // The server's max_age sweep runs on a timer: an entry past its TTL counts as gone.
      if (!entry || entry.operation !== 'PUT' || Date.now() - entry.created.getTime() >= this.ttlMs) return undefined
      return entry.string()
    }))
  }

  async set(key: string, value: string): Promise<void> {
    await this.guard(this.run((kv) => kv.put(escapeToken(key), value)))
  }

  async take(key: string): Promise<string | undefined> {
    return this.guard(this.run(async (kv) => {
      const k = escapeToken(key)
      const entry = await kv.get(k)
      if (!entry || entry.operation !== 'PUT' || Date.now() - entry.created.getTime() >= this.ttlMs) return undefined
      try {
        await kv.delete(k, { previousSeq: entry.revision })
      } catch (err) {
        if (isWrongLastSequence(err)) return undefined // another node took it first
        throw err
      }
      return entry.string()
    }))
  }

  async delete(key: string): Promise<void> {
    await this.guard(this.run((kv) => kv.delete(escapeToken(key))))
  }

  /**
   * After a reconnect: the server may have restarted without its data, and then a bucket opened
   * before answers nothing useful (gets time out, puts find no JetStream). The next operation
   * opens it again, which makes it when it is gone.
   */
  reopen(): void {
    this.bucket = undefined
  }

  /** Runs `op` on the bucket; once more on a new bucket when the server no longer has it. */
  private async run<T>(op: (kv: KV) => Promise<T>): Promise<T> {
    try {
      return await op(await this.open())
    } catch (err) {
      if (!isStreamNotFound(err)) throw err
      this.bucket = undefined
      return op(await this.open())
    }
  }

  private open(): Promise<KV> {
    const nc = this.connection()
    if (!nc) return Promise.reject(new Error('not started'))
    const create = () => new Kvm(nc).create(this.name, { ttl: Math.max(1, Math.round(this.ttlMs)), history: 1 })
    // Nodes starting together race to make the bucket; the loser's second try finds it made.
    this.bucket ??= create().catch(create)
    this.bucket.catch(() => { this.bucket = undefined })
    return this.bucket
  }
}

/** JetStream's "wrong last sequence" (10071): an expected-sequence check failed. */
export function isWrongLastSequence(err: unknown): boolean {
  return (err as { code?: unknown })?.code === 10071 || /wrong last sequence/i.test((err as Error)?.message ?? '')
}

export function isStreamNotFound(err: unknown): boolean {
  return (err as { code?: unknown })?.code === 10059 || /stream not found/i.test((err as Error)?.message ?? '')
}
