import type { KeyValueStore } from '../broker/broker.js'
import { jobEvent } from './job-events.js'
import type { JobEventType, JobRecord } from './job.js'

/** Publishes job events: the hub on a node, the broker itself in a worker process. */
export interface JobPublisher {
  publish(stream: string, data: unknown): Promise<unknown>
}

/** Where a failed store write or publish is reported. */
export type LedgerFailure = (op: string, err: unknown) => void

/**
 * Job records in the broker's shared store, and the events on their streams. Every node and
 * worker on one broker sees the same records, so a job can be read, followed and cancelled from
 * anywhere, and outlives the node that started it (with the memory broker: this process only).
 *
 * Two rules make a job's stream trustworthy:
 * - Per job, a change is stored before its event is published, and changes go out in order, so a
 *   subscriber that read an event and then the record never sees the record behind the event.
 * - A job ends once: each open job has a gate key, and only the caller that takes it (the
 *   store's atomic take) publishes the final event. A cancel racing a worker's success, or two
 *   workers after a stall, cannot both end it.
 */
export class JobLedger {
  /** The tail of each job's pending writes, so its changes are stored and published in order. */
  private readonly tails = new Map<string, Promise<void>>()

  constructor(
    private readonly records: KeyValueStore,
    /** One key per open job (see finish); its TTL is --jobs-ttl like the records'. */
    private readonly gates: KeyValueStore,
    private readonly publisher: JobPublisher,
    private readonly failed: LedgerFailure,
  ) {}

  async read(id: string): Promise<JobRecord | undefined> {
    const text = await this.records.get(id)
    return text === undefined ? undefined : (JSON.parse(text) as JobRecord)
  }

  /** Stores a new job and opens its gate; nothing is published (its first event is `running`). */
  async create(record: JobRecord): Promise<void> {
    await this.gates.set(record.snapshot.id, '1')
    await this.records.set(record.snapshot.id, JSON.stringify(record))
  }

  /**
   * Stores the record as it is now and publishes `type` from it, after the job's earlier changes.
   * Resolves once both are done; failures are reported, never thrown (the job goes on).
   */
  write(record: JobRecord, type: JobEventType): Promise<void> {
    const text = JSON.stringify(record)
    const event = jobEvent(record.snapshot, type)
    return this.enqueue(record.snapshot.id, async () => {
      await this.records.set(record.snapshot.id, text)
      await this.publisher.publish(record.snapshot.stream, event)
    })
  }

  /**
   * The final change (succeeded, failed, cancelled) of `record`, already applied to it: stored
   * and published only by the caller that takes the job's gate. Resolves with whether this caller
   * ended the job; false means someone else did first (or the store is down: reported).
   */
  finish(record: JobRecord, type: 'succeeded' | 'failed' | 'cancelled'): Promise<boolean> {
    const id = record.snapshot.id
    const text = JSON.stringify(record)
    const event = jobEvent(record.snapshot, type)
    let ended = false
    return this.enqueue(id, async () => {
      if ((await this.gates.take(id)) === undefined) return
      ended = true
      await this.records.set(id, text)
      await this.publisher.publish(record.snapshot.stream, event)
    }).then(() => ended)
  }

  /** Restarts the TTL of a job that is still open (a long job with no news for a while). */
  refresh(record: JobRecord): Promise<void> {
    const id = record.snapshot.id
    return this.enqueue(id, async () => {
      await this.gates.set(id, '1')
      await this.records.set(id, JSON.stringify(record))
    })
  }

  /** Resolves once every write queued so far for the job is done. */
  settled(id: string): Promise<void> {
    return this.tails.get(id) ?? Promise.resolve()
  }

  private enqueue(id: string, op: () => Promise<void>): Promise<void> {
    const prev = this.tails.get(id) ?? Promise.resolve()
    const next = prev.then(op).catch((err: unknown) => this.failed(`job ${id}`, err))
    this.tails.set(id, next)
    void next.then(() => {
      if (this.tails.get(id) === next) this.tails.delete(id)
    })
    return next
  }
}
