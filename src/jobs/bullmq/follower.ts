import { Job, Queue, QueueEvents } from 'bullmq'
import { clamp01, isFinalState } from '../job-events.js'
import { JobExecution, type ExecutionOptions } from '../job-execution.js'
import type { JobLedger } from '../job-ledger.js'
import { jobStream, type JobRecord } from '../job.js'
import { connection, type QueueTarget } from './connection.js'

/** The Herald id of a BullMQ job Herald follows: `<queue>.<BullMQ id>` (Herald's own ids have no dot). */
export function followedId(queue: string, jobId: string): string {
  return `${queue}.${jobId}`
}

/**
 * BullMQ's progress value as Herald's: a number is a percentage (BullMQ's convention, 0..100);
 * an object may carry `progress` (0..1), `message` and `data`; anything else is data.
 */
export function mapProgress(value: unknown): { progress?: number; message?: string; data?: unknown } {
  if (typeof value === 'number') return { progress: clamp01(value / 100) }
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const v = value as Record<string, unknown>
    if (typeof v.progress === 'number' || typeof v.message === 'string') {
      return {
        progress: typeof v.progress === 'number' ? clamp01(v.progress) : undefined,
        message: typeof v.message === 'string' ? v.message : undefined,
        data: v.data,
      }
    }
  }
  return { data: value }
}

/**
 * Follows the jobs of a BullMQ queue that Herald did not start, through BullMQ's own events
 * (QueueEvents): `active` → running (a `retry` from the second attempt), `progress` (from
 * `job.updateProgress`) → progress, `completed` → succeeded, `failed` → failed, each on stream
 * `job:<queue>.<id>` with a record like any job's. Jobs Herald runs itself (they have a record
 * under their own id) are left to their worker. Run one follower per queue: two would publish
 * each progress event twice (the final event stays single: JobLedger's gate).
 */
export class QueueFollower {
  private readonly events: QueueEvents
  private readonly queue: Queue
  /** Per job, the tail of its event handling, so a job's events are handled in order. */
  private readonly tails = new Map<string, Promise<void>>()
  /** Open followed jobs in this process; their records here are the newest. */
  private readonly open = new Map<string, JobExecution>()

  constructor(
    private readonly target: QueueTarget,
    private readonly ledger: JobLedger,
    private readonly options: ExecutionOptions,
  ) {
    const conn = connection(target)
    this.events = new QueueEvents(target.name, { connection: conn, prefix: target.prefix })
    this.queue = new Queue(target.name, { connection: conn, prefix: target.prefix })
    this.queue.on('error', () => {})
    this.events.on('error', (err) => options.diagnostics.brokerError(`bullmq events of ${target.name}`, err))
    this.events.on('active', ({ jobId }) => this.handle(jobId, (e) => this.active(jobId, e)))
    this.events.on('progress', ({ jobId, data }) => this.handle(jobId, async (e) => {
      const p = mapProgress(data)
      await e?.progress(p.progress ?? e.snapshot.progress, p.message, p.data)
    }))
    this.events.on('completed', ({ jobId, returnvalue }) => this.handle(jobId, async (e) => {
      await e?.finish('succeeded', { result: parseMaybe(returnvalue) })
      this.open.delete(followedId(target.name, jobId))
    }))
    this.events.on('failed', ({ jobId, failedReason }) => this.handle(jobId, async (e) => {
      await e?.finish('failed', { error: failedReason })
      this.open.delete(followedId(target.name, jobId))
    }))
  }

  async start(): Promise<void> {
    await this.events.waitUntilReady()
  }

  async close(): Promise<void> {
    await Promise.all([this.events.close(), this.queue.close()])
  }

  /** Runs `op` after the job's earlier events, with its execution (undefined for a job Herald runs itself). */
  private handle(jobId: string, op: (execution: JobExecution | undefined) => Promise<void>): void {
    const id = followedId(this.target.name, jobId)
    const prev = this.tails.get(id) ?? Promise.resolve()
    const next = prev
      .then(async () => op(this.open.get(id) ?? (await this.existing(id))))
      .catch((err: unknown) => this.options.diagnostics.brokerError(`following job ${id}`, err))
    this.tails.set(id, next)
    void next.then(() => { if (this.tails.get(id) === next) this.tails.delete(id) })
  }

  /** A followed job this process has no execution for (after a restart): from its record. */
  private async existing(id: string): Promise<JobExecution | undefined> {
    const record = await this.ledger.read(id)
    if (!record || isFinalState(record.snapshot.state)) return undefined
    const e = new JobExecution(record, this.ledger, this.options)
    this.open.set(id, e)
    return e
  }

  private async active(jobId: string, known: JobExecution | undefined): Promise<void> {
    const id = followedId(this.target.name, jobId)
    let execution = known
    if (!execution) {
      // One of Herald's own (its worker publishes), or gone already.
      if (await this.ledger.read(jobId)) return
      const job = await Job.fromId(this.queue, jobId)
      if (!job) return
      const at = new Date(job.timestamp || Date.now()).toISOString()
      const record: JobRecord = {
        snapshot: {
          id, type: job.name, stream: jobStream(id), state: 'queued', progress: 0, message: null,
          createdAt: at, startedAt: null, finishedAt: null, updatedAt: at, attempt: 0, runner: 'follow',
        },
      }
      await this.ledger.create(record)
      execution = new JobExecution(record, this.ledger, this.options)
      this.open.set(id, execution)
    }
    await execution.begin(execution.snapshot.attempt + 1)
  }
}

function parseMaybe(value: unknown): unknown {
  if (typeof value !== 'string') return value ?? null
  try {
    return JSON.parse(value)
  } catch {
    return value
  }
}
