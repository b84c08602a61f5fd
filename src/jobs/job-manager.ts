import { randomBytes } from 'node:crypto'
import { ZodError } from 'zod'
import { HeraldError } from '../errors.js'
import type { StreamHooks } from '../core/stream-hooks.js'
import type { Diagnostics } from '../observability/diagnostics.js'
import { DEFAULT_MAX_JSON_DEPTH, valueTooDeep } from '../protocol/json-depth.js'
import type { StreamMessage } from '../protocol/messages.js'
import { FINAL_STATES, jobStream, type JobContext, type JobSnapshot, type JobState, type JobTypeDefinition } from './job.js'

interface JobRecord {
  snapshot: JobSnapshot
  controller: AbortController
  /** Unix ms after which a finished job is forgotten. */
  expiresAt: number
}

/** Publishes job events; the hub in production, anything with the same shape in tests. */
export interface JobPublisher {
  publish(stream: string, data: unknown): Promise<unknown>
}

/** What an outside worker may report for a job (POST /jobs/:id/progress). */
export interface JobReport {
  progress?: number
  message?: string
  data?: unknown
  state?: 'running' | 'succeeded' | 'failed'
  result?: unknown
  error?: string
}

const FINAL_EVENT = /^\{"type":"(?:succeeded|failed|cancelled)"/

const clamp01 = (n: number) => (Number.isFinite(n) ? Math.min(1, Math.max(0, n)) : 0)

/**
 * Jobs: types defined in process, jobs started over HTTP, their snapshots, and their events on
 * stream `job:<id>` (`progress`, then exactly one of `succeeded`, `failed`, `cancelled`).
 */
export class JobManager implements StreamHooks {
  private readonly types = new Map<string, JobTypeDefinition>()
  private readonly jobs = new Map<string, JobRecord>()
  private readonly sweepTimer: NodeJS.Timeout

  constructor(
    private readonly publisher: JobPublisher,
    private readonly options: { ttlMs: number; diagnostics: Diagnostics; maxJsonDepth?: number },
  ) {
    this.sweepTimer = setInterval(() => this.sweep(), Math.min(60_000, Math.max(1000, options.ttlMs / 2)))
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

  /** Starts a job; it runs after this returns, so a caller can hand out its stream first. */
  start(type: string, input: unknown): JobSnapshot {
    const def = this.types.get(type)
    if (!def) {
      throw new HeraldError('HERALD_ERR_UNKNOWN_JOB_TYPE', `${JSON.stringify(type)}; known types: ${this.typeNames.join(', ')}`)
    }
    let parsed: unknown = input
    try {
      if (def.parseInput) parsed = def.parseInput(input)
    } catch (err) {
      const detail = err instanceof ZodError
        ? err.issues.map((i) => `input${i.path.length ? '.' + i.path.join('.') : ''}: ${i.message}`).join('; ')
        : (err as Error).message
      throw new HeraldError('HERALD_ERR_BAD_REQUEST', detail)
    }
    const id = randomBytes(12).toString('base64url')
    const now = new Date().toISOString()
    const record: JobRecord = {
      snapshot: {
        id, type, stream: jobStream(id), state: 'queued', progress: 0, message: null,
        createdAt: now, startedAt: null, finishedAt: null, updatedAt: now,
      },
      controller: new AbortController(),
      expiresAt: Infinity,
    }
    this.jobs.set(id, record)
    if (def.handler) setImmediate(() => void this.run(record, def.handler!, parsed))
    return { ...record.snapshot }
  }

  get(id: string): JobSnapshot | undefined {
    const record = this.jobs.get(id)
    return record ? { ...record.snapshot } : undefined
  }

  /** Cancels a queued or running job: its handler's signal aborts and `cancelled` is published. */
  cancel(id: string): JobSnapshot {
    const record = this.require(id)
    if (FINAL_STATES.has(record.snapshot.state)) {
      throw new HeraldError('HERALD_ERR_JOB_FINISHED', `job ${id} is ${record.snapshot.state}`)
    }
    this.finish(record, 'cancelled', {})
    record.controller.abort(new Error('job cancelled'))
    return { ...record.snapshot }
  }

  /** Progress or an outcome reported by an outside worker. */
  report(id: string, report: JobReport): JobSnapshot {
    const record = this.require(id)
    if (FINAL_STATES.has(record.snapshot.state)) {
      throw new HeraldError('HERALD_ERR_JOB_FINISHED', `job ${id} is ${record.snapshot.state}`)
    }
    if (report.state === 'succeeded') this.finish(record, 'succeeded', { result: report.result ?? null, message: report.message })
    else if (report.state === 'failed') this.finish(record, 'failed', { error: { message: report.error ?? 'failed' }, message: report.message })
    else this.progress(record, report.progress ?? record.snapshot.progress, report.message, report.data)
    return { ...record.snapshot }
  }

  /**
   * StreamHooks: a subscriber of `job:<id>` receives the job's snapshot after its backlog, unless
   * that backlog already ended with the job's final event (the snapshot would only repeat it).
   */
  snapshot(stream: string, after?: StreamMessage): string | undefined {
    if (!stream.startsWith('job:') || (after !== undefined && this.isFinal(after))) return undefined
    const record = this.jobs.get(stream.slice(4))
    return record ? JSON.stringify({ type: 'snapshot', job: record.snapshot }) : undefined
  }

  /**
   * A job's stream ends with its `succeeded`, `failed` or `cancelled` event. Event text is
   * canonical JSON with `type` first (see emit), so a prefix test suffices.
   */
  readonly isFinal = (message: StreamMessage): boolean => {
    return message.stream.startsWith('job:') && FINAL_EVENT.test(message.data)
  }

  /** Cancels every unfinished job (shutdown): they run in this process, so they end with it. */
  cancelAll(): void {
    for (const record of this.jobs.values()) {
      if (!FINAL_STATES.has(record.snapshot.state)) {
        this.options.diagnostics.notice('warn', 'job cancelled by shutdown', { job: record.snapshot.id, type: record.snapshot.type })
        this.finish(record, 'cancelled', { message: 'server shutting down' })
        record.controller.abort(new Error('server shutting down'))
      }
    }
  }

  close(): void {
    clearInterval(this.sweepTimer)
    this.cancelAll()
  }

  /** Jobs this node knows (running, and finished ones within --jobs-ttl), by state. */
  countByState(): Partial<Record<JobState, number>> {
    const out: Partial<Record<JobState, number>> = {}
    for (const { snapshot } of this.jobs.values()) out[snapshot.state] = (out[snapshot.state] ?? 0) + 1
    return out
  }

  get size(): number {
    return this.jobs.size
  }

  /** Job data is stored and stringified long after it arrives: refuse what could never be (protocol/json-depth.ts). */
  private checkDepth(value: unknown, what: string): void {
    const limit = this.options.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH
    if (value !== undefined && valueTooDeep(value, limit)) {
      throw new HeraldError('HERALD_ERR_JSON_TOO_DEEP', `${what} is nested deeper than ${limit} levels (--max-json-depth)`)
    }
  }

  private require(id: string): JobRecord {
    const record = this.jobs.get(id)
    if (!record) throw new HeraldError('HERALD_ERR_NOT_FOUND', `job ${JSON.stringify(id)}`)
    return record
  }

  private async run(record: JobRecord, handler: NonNullable<JobTypeDefinition['handler']>, input: unknown): Promise<void> {
    if (record.snapshot.state !== 'queued') return // cancelled before it started
    const s = record.snapshot
    s.state = 'running'
    s.startedAt = s.updatedAt = new Date().toISOString()
    const ctx: JobContext = {
      id: s.id,
      signal: record.controller.signal,
      progress: (fraction, message, data) => {
        if (s.state === 'running') this.progress(record, fraction, message, data)
      },
    }
    this.options.diagnostics.jobState(s.id, s.type, 'running')
    this.emit(record, 'progress')
    try {
      const result = await handler(input, ctx)
      if (s.state !== 'running') return
      this.checkDepth(result, 'the result')
      this.finish(record, 'succeeded', { result: result ?? null })
    } catch (err) {
      if (s.state !== 'running') return // cancelled: the abort error is expected
      this.finish(record, 'failed', { error: { message: (err as Error)?.message ?? String(err) } })
    }
  }

  private progress(record: JobRecord, fraction: number, message?: string, data?: unknown): void {
    this.checkDepth(data, 'progress data')
    const s = record.snapshot
    if (s.state === 'queued') {
      s.state = 'running'
      s.startedAt = new Date().toISOString()
    }
    s.progress = clamp01(fraction)
    if (message !== undefined) s.message = message
    s.data = data
    s.updatedAt = new Date().toISOString()
    this.emit(record, 'progress')
  }

  private finish(record: JobRecord, state: JobState, fields: { result?: unknown; error?: { message: string }; message?: string }): void {
    const s = record.snapshot
    s.state = state
    if (state === 'succeeded') s.progress = 1
    if (fields.result !== undefined) s.result = fields.result
    if (fields.error) s.error = fields.error
    if (fields.message !== undefined) s.message = fields.message
    s.finishedAt = s.updatedAt = new Date().toISOString()
    if (!s.startedAt) s.startedAt = s.finishedAt
    record.expiresAt = Date.now() + this.options.ttlMs
    const durationMs = Date.parse(s.finishedAt) - Date.parse(s.startedAt)
    this.options.diagnostics.jobState(s.id, s.type, state, durationMs, fields.error?.message)
    this.emit(record, state)
  }

  /** One event on the job's stream; its shape is the snapshot's with `type` = the event. */
  private emit(record: JobRecord, type: 'progress' | JobState): void {
    const s = record.snapshot
    const event: Record<string, unknown> = { type, job: s.id, state: s.state, progress: s.progress, message: s.message, at: s.updatedAt }
    if (s.data !== undefined && type === 'progress') event.data = s.data
    if (type === 'succeeded') event.result = s.result
    if (type === 'failed') event.error = s.error
    this.publisher.publish(s.stream, event).catch((err: unknown) => this.options.diagnostics.brokerError(`publish of job ${s.id}'s ${type} event`, err))
  }

  private sweep(): void {
    const now = Date.now()
    for (const [id, record] of this.jobs) if (record.expiresAt <= now) this.jobs.delete(id)
  }
}
