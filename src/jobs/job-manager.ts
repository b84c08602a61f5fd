import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { ZodError } from 'zod'
import { HeraldError } from '../errors.js'
import type { StreamHooks } from '../core/stream-hooks.js'
import type { Diagnostics } from '../observability/diagnostics.js'
import type { StreamMessage } from '../protocol/messages.js'
import { isFinalJobEvent, isFinalState } from './job-events.js'
import { JobExecution } from './job-execution.js'
import type { JobLedger } from './job-ledger.js'
import type { JobQueue } from './job-queue.js'
import { jobStream, type JobRecord, type JobRunner, type JobSnapshot, type JobState, type JobTypeDefinition } from './job.js'

export type { JobPublisher } from './job-ledger.js'

/** What an outside worker may report for a job (POST /jobs/:id/progress). */
export interface JobReport {
  progress?: number
  message?: string
  data?: unknown
  state?: 'running' | 'succeeded' | 'failed'
  result?: unknown
  error?: string
}

export interface JobService {
  start(): Promise<void>
  close(): Promise<void>
}

export interface JobManagerOptions {
  /** How long a finished job stays readable (--jobs-ttl), ms; also the records' TTL in the store. */
  ttlMs: number
  diagnostics: Diagnostics
  maxJsonDepth?: number
  /** This node's id: in-process jobs are recorded with it. */
  nodeId?: string
  /** Workers' queue (--jobs bullmq): jobs of every type but `external` are enqueued, not run here. */
  queue?: JobQueue
  /** Sends a cancel to every node and worker (Broker.notify on CANCEL_TOPIC). */
  notifyCancel?: (id: string) => Promise<void>
  /** How long a cancel waits for the node or worker running the job to end it, ms (then ends it itself). */
  cancelWaitMs?: number
}

/**
 * Jobs: types, jobs started over HTTP, their records and their events on stream `job:<id>`
 * (`progress`, `retry`, then exactly one of `succeeded`, `failed`, `cancelled`). Records live in
 * the broker's store (JobLedger), so any node reads, follows and cancels any job; handlers run
 * in this process or, with a queue, in workers.
 */
export class JobManager implements StreamHooks {
  private readonly types = new Map<string, JobTypeDefinition>()
  /** Jobs whose handler runs in this process: their record here is the newest. */
  private readonly running = new Map<string, JobExecution>()
  /** States of the jobs this node started, ran or ended, for stats and the herald_jobs gauge; dropped --jobs-ttl after they end. */
  private readonly known = new Map<string, { state: JobState; expiresAt: number }>()
  private readonly sweepTimer: NodeJS.Timeout
  /** What startServices() starts and close() stops with the jobs (queue followers). */
  private readonly services: JobService[] = []
  readonly nodeId: string

  constructor(
    readonly ledger: JobLedger,
    private readonly options: JobManagerOptions,
  ) {
    this.nodeId = options.nodeId ?? randomBytes(6).toString('base64url')
    this.sweepTimer = setInterval(() => this.sweep(), Math.min(60_000, Math.max(1000, options.ttlMs / 3)))
    this.sweepTimer.unref()
  }

  /** Registers a job type. A type without a handler is driven by an outside worker. */
  define<I, R>(type: string, definition: JobTypeDefinition<I, R>): void {
    if (!/^[\w.:-]{1,64}$/.test(type)) throw new TypeError(`job type ${JSON.stringify(type)}: use 1-64 of [A-Za-z0-9_.:-]`)
    this.types.set(type, definition as JobTypeDefinition)
  }

  get typeNames(): string[] {
    return [...this.types.keys()].sort()
  }

  get queue(): JobQueue | undefined {
    return this.options.queue
  }

  /** Starts a job: stored, then run here or enqueued; it runs after this resolves, so a caller can hand out its stream first. */
  async start(type: string, input: unknown): Promise<JobSnapshot> {
    const def = this.types.get(type)
    const queue = type === 'external' ? undefined : this.options.queue
    if (!def && !(queue && await queue.hasType(type))) {
      throw new HeraldError('HERALD_ERR_UNKNOWN_JOB_TYPE', `${JSON.stringify(type)}; known types: ${this.typeNames.join(', ')}`)
    }
    const parsed = def?.parseInput ? parseInput(def, input) : input
    const runner: JobRunner = queue ? 'queue' : def?.handler ? 'process' : 'external'
    const id = randomBytes(12).toString('base64url')
    const at = new Date().toISOString()
    const record: JobRecord = {
      snapshot: {
        id, type, stream: jobStream(id), state: 'queued', progress: 0, message: null,
        createdAt: at, startedAt: null, finishedAt: null, updatedAt: at, attempt: 0, runner,
      },
      input: parsed,
      node: runner === 'process' ? this.nodeId : undefined,
    }
    await this.ledger.create(record)
    this.track(id, 'queued')
    this.options.diagnostics.jobState(id, type, 'queued')
    if (queue) await queue.enqueue(id, type, parsed)
    else if (def?.handler) {
      const execution = new JobExecution(record, this.ledger, this.options)
      this.running.set(id, execution)
      setImmediate(() => void this.run(execution, def.handler!, parsed))
    }
    return { ...record.snapshot }
  }

  /** The job's snapshot: this process's own for a job it runs, else the stored record. */
  async get(id: string): Promise<JobSnapshot | undefined> {
    const local = this.running.get(id)
    if (local) return { ...local.snapshot }
    return (await this.ledger.read(id))?.snapshot
  }

  /**
   * Cancels a queued or running job, from any node: the node or worker running it aborts the
   * handler's signal and publishes `cancelled`; a job no worker has taken is removed from the
   * queue and ended here, as is one whose runner does not answer within `cancelWaitMs`.
   */
  async cancel(id: string): Promise<JobSnapshot> {
    const local = this.running.get(id)
    if (local) {
      if (!local.isOpen) throw finished(local.snapshot)
      await local.cancel()
      return { ...local.snapshot }
    }
    const record = await this.require(id)
    if (isFinalState(record.snapshot.state)) throw finished(record.snapshot)
    const runner = record.snapshot.runner
    if (runner === 'follow') throw new HeraldError('HERALD_ERR_BAD_REQUEST', `job ${id} is a BullMQ job Herald follows; cancel it through its own queue`)
    const queue = this.options.queue
    const runsElsewhere = runner === 'process' || (runner === 'queue' && !(queue && await queue.remove(id)))
    if (runsElsewhere) {
      await this.options.notifyCancel?.(id)
      const ended = await this.waitFinal(id, this.options.cancelWaitMs ?? 3000)
      if (ended) return ended
    }
    // Nobody runs it (queued, driven from outside, or its runner is gone): it ends here.
    const execution = new JobExecution(record, this.ledger, this.options)
    if (!(await execution.finish('cancelled'))) {
      const now = await this.require(id)
      if (now.snapshot.state !== 'cancelled') throw finished(now.snapshot)
      return now.snapshot
    }
    this.track(id, 'cancelled')
    return { ...record.snapshot }
  }

  /** A cancel sent by some node (Broker.notify): the handler of a job running here stops. */
  cancelled(id: string): void {
    const local = this.running.get(id)
    if (local?.isOpen) void local.cancel()
  }

  /** Progress or an outcome reported by an outside worker, on any node. */
  async report(id: string, report: JobReport): Promise<JobSnapshot> {
    const local = this.running.get(id)
    const execution = local ?? new JobExecution(await this.require(id), this.ledger, this.options)
    if (!execution.isOpen) throw finished(execution.snapshot)
    if (report.state === 'succeeded' || report.state === 'failed') {
      const ended = report.state === 'succeeded'
        ? await execution.finish('succeeded', { result: report.result ?? null, message: report.message })
        : await execution.finish('failed', { error: report.error ?? 'failed', message: report.message })
      if (!ended) throw finished((await this.require(id)).snapshot)
      this.track(id, report.state)
    } else {
      await execution.progress(report.progress ?? execution.snapshot.progress, report.message, report.data)
      this.track(id, execution.snapshot.state)
    }
    return { ...execution.snapshot }
  }

  /**
   * StreamHooks: a subscriber of `job:<id>` receives the job's snapshot after its backlog, unless
   * that backlog already ended with the job's final event (the snapshot would only repeat it).
   * For a job running elsewhere it is the stored record, which is never behind the events
   * already published (JobLedger stores first).
   */
  snapshot(stream: string, after?: StreamMessage): string | undefined | Promise<string | undefined> {
    if (!stream.startsWith('job:') || (after !== undefined && isFinalJobEvent(after))) return undefined
    const id = stream.slice(4)
    const local = this.running.get(id)
    if (local) return JSON.stringify({ type: 'snapshot', job: local.snapshot })
    return this.ledger.read(id).then((record) => (record ? JSON.stringify({ type: 'snapshot', job: record.snapshot }) : undefined))
  }

  /** A job's stream ends with its `succeeded`, `failed` or `cancelled` event. */
  readonly isFinal = (message: StreamMessage): boolean => isFinalJobEvent(message)

  /**
   * Cancels every job running in this process (shutdown): they end with it, each with a warn
   * line. Jobs in a queue are the workers' and go on.
   */
  async cancelAll(): Promise<void> {
    const endings: Promise<unknown>[] = []
    for (const execution of this.running.values()) {
      if (!execution.isOpen) continue
      this.options.diagnostics.notice('warn', 'job cancelled by shutdown', { job: execution.snapshot.id, type: execution.snapshot.type })
      endings.push(execution.cancel('server shutting down'))
    }
    await Promise.all(endings)
  }

  async close(): Promise<void> {
    clearInterval(this.sweepTimer)
    await this.cancelAll()
    await Promise.all([this.options.queue?.close(), ...this.services.map((s) => s.close())])
  }

  /** Something that runs with the jobs (a queue follower): started by startServices(), stopped by close(). */
  addService(service: JobService): void {
    this.services.push(service)
  }

  /** Starts the services (the node is about to listen). */
  async startServices(): Promise<void> {
    await Promise.all(this.services.map((s) => s.start()))
  }

  /**
   * By state: this node's jobs (process mode), or the queue's (with workers), read when scraped;
   * plus the jobs running here and the queue's workers.
   */
  async stats(): Promise<{ byState: Partial<Record<JobState, number>>; running: number; workers: number }> {
    const queue = this.options.queue
    if (!queue) return { byState: this.countByState(), running: this.runningCount, workers: 0 }
    const [byState, workers] = await Promise.all([queue.counts(), queue.workers()])
    return { byState, running: byState.running ?? 0, workers }
  }

  /** Jobs this node started, ran or ended (finished ones within --jobs-ttl), by state. */
  countByState(): Partial<Record<JobState, number>> {
    const out: Partial<Record<JobState, number>> = {}
    for (const { state } of this.known.values()) out[state] = (out[state] ?? 0) + 1
    return out
  }

  /** Handlers running in this process now. */
  get runningCount(): number {
    let n = 0
    for (const e of this.running.values()) if (e.isOpen) n++
    return n
  }

  get size(): number {
    return this.known.size
  }

  private async run(execution: JobExecution, handler: NonNullable<JobTypeDefinition['handler']>, input: unknown): Promise<void> {
    const id = execution.snapshot.id
    try {
      if (!execution.isOpen) return // cancelled before it started
      await execution.begin(1)
      this.track(id, 'running')
      const outcome = await execution.run(handler, input)
      if (outcome.state === 'succeeded') await execution.finish('succeeded', { result: outcome.result })
      else if (outcome.state === 'failed') await execution.finish('failed', { error: outcome.error.message })
    } finally {
      this.track(id, execution.snapshot.state)
      // Kept until its last write is out, so a read here is never behind the stream.
      await this.ledger.settled(id)
      this.running.delete(id)
    }
  }

  private track(id: string, state: JobState): void {
    this.known.set(id, { state, expiresAt: isFinalState(state) ? Date.now() + this.options.ttlMs : Infinity })
  }

  private async require(id: string): Promise<JobRecord> {
    const record = await this.ledger.read(id)
    if (!record) throw new HeraldError('HERALD_ERR_NOT_FOUND', `job ${JSON.stringify(id)}`)
    return record
  }

  /** The job's snapshot once its record is final, or undefined after `ms`. */
  private async waitFinal(id: string, ms: number): Promise<JobSnapshot | undefined> {
    const deadline = Date.now() + ms
    for (let wait = 5; Date.now() < deadline; wait = Math.min(wait * 2, 100)) {
      const record = await this.ledger.read(id)
      if (!record || isFinalState(record.snapshot.state)) return record?.snapshot
      await sleep(wait)
    }
    return undefined
  }

  private sweep(): void {
    const now = Date.now()
    for (const [id, entry] of this.known) if (entry.expiresAt <= now) this.known.delete(id)
    // A long job with no news still has a record: its TTL starts again.
    this.refreshOpen()
  }

  /**
   * Stores again the record and the open gate of every job running here: after their TTL was
   * restarted (sweep), or after the broker came back without its data, so such a job can still
   * be read and can still end (its final event needs the gate).
   */
  refreshOpen(): void {
    for (const execution of this.running.values()) if (execution.isOpen) void this.ledger.refresh(execution.record)
  }
}

function finished(s: JobSnapshot): HeraldError {
  return new HeraldError('HERALD_ERR_JOB_FINISHED', `job ${s.id} is ${s.state}`)
}

function parseInput(def: JobTypeDefinition, input: unknown): unknown {
  try {
    return def.parseInput!(input)
  } catch (err) {
    const detail = err instanceof ZodError
      ? err.issues.map((i) => `input${i.path.length ? '.' + i.path.join('.') : ''}: ${i.message}`).join('; ')
      : (err as Error).message
    throw new HeraldError('HERALD_ERR_BAD_REQUEST', detail)
  }
}
