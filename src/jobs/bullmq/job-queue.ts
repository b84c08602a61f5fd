import { Queue } from 'bullmq'
import type { KeyValueStore } from '../../broker/broker.js'
import type { JobQueue } from '../job-queue.js'
import type { JobState } from '../job.js'
import { connection, type QueueTarget } from './connection.js'

export interface BullJobQueueOptions {
  /** Attempts per job (BullMQ retries the rest with exponential backoff). */
  attempts: number
  /** The first retry's delay, ms. */
  backoffMs: number
  /** How long BullMQ keeps a finished job, ms (--jobs-ttl: Herald's record says the same). */
  keepMs: number
  /** Job types workers announced (see HeraldWorker). */
  types: KeyValueStore
}

/** BullMQ's job states as Herald's. */
const STATES: Record<string, JobState> = {
  waiting: 'queued', delayed: 'queued', prioritized: 'queued', paused: 'queued', 'waiting-children': 'queued',
  active: 'running', completed: 'succeeded', failed: 'failed',
}

/** A node's side of a BullMQ queue: POST /jobs adds to it; workers anywhere take from it. */
export class BullJobQueue implements JobQueue {
  private readonly queue: Queue

  constructor(
    private readonly target: QueueTarget,
    private readonly options: BullJobQueueOptions,
  ) {
    this.queue = new Queue(target.name, { connection: connection(target), prefix: target.prefix })
    // Errors reach the caller of each operation; the event would otherwise be unhandled.
    this.queue.on('error', () => {})
  }

  get name(): string {
    return this.target.name
  }

  async enqueue(id: string, type: string, input: unknown): Promise<void> {
    const keep = { age: Math.max(1, Math.ceil(this.options.keepMs / 1000)) }
    await this.queue.add(type, input ?? null, {
      jobId: id,
      attempts: this.options.attempts,
      backoff: { type: 'exponential', delay: this.options.backoffMs },
      removeOnComplete: keep,
      removeOnFail: keep,
    })
  }

  async remove(id: string): Promise<boolean> {
    // 0 when a worker holds it (its lock): then the worker is told to cancel instead.
    return (await this.queue.remove(id)) === 1
  }

  async counts(): Promise<Partial<Record<JobState, number>>> {
    const raw = await this.queue.getJobCounts(...(Object.keys(STATES) as Parameters<Queue['getJobCounts']>))
    const out: Partial<Record<JobState, number>> = {}
    for (const [state, n] of Object.entries(raw)) {
      const mapped = STATES[state]
      if (mapped) out[mapped] = (out[mapped] ?? 0) + n
    }
    return out
  }

  workers(): Promise<number> {
    return this.queue.getWorkersCount()
  }

  async hasType(type: string): Promise<boolean> {
    return (await this.options.types.get(`${this.target.name}/${type}`)) !== undefined
  }

  async close(): Promise<void> {
    await this.queue.close()
  }
}
