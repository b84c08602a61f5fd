import { HeraldError } from '../errors.js'
import type { Diagnostics } from '../observability/diagnostics.js'
import { DEFAULT_MAX_JSON_DEPTH, valueTooDeep } from '../protocol/json-depth.js'
import { clamp01, isFinalState } from './job-events.js'
import type { JobLedger } from './job-ledger.js'
import type { JobContext, JobHandler, JobRecord, JobState } from './job.js'

export type FinalState = 'succeeded' | 'failed' | 'cancelled'

/** How a handler's run ended. */
export type RunOutcome =
  | { state: 'succeeded'; result: unknown }
  | { state: 'failed'; error: Error }
  | { state: 'cancelled' }

export interface ExecutionOptions {
  diagnostics: Diagnostics
  maxJsonDepth?: number
}

/**
 * One attempt of one job in this process: runs its handler with a context (progress, signal),
 * keeps its record current and writes each change through the ledger. Used by the in-process
 * job manager and by queue workers alike, so both publish the same events.
 */
export class JobExecution {
  readonly controller = new AbortController()

  constructor(
    readonly record: JobRecord,
    private readonly ledger: JobLedger,
    private readonly options: ExecutionOptions,
  ) {}

  get snapshot() {
    return this.record.snapshot
  }

  get isOpen(): boolean {
    return !isFinalState(this.record.snapshot.state)
  }

  /** Marks it running as attempt `attempt`: `progress` for the first, `retry` after a failed or lost one. */
  begin(attempt: number): Promise<void> {
    const s = this.record.snapshot
    const retry = attempt > 1
    s.state = 'running'
    s.attempt = attempt
    s.startedAt = s.updatedAt = now()
    if (retry) {
      s.progress = 0
      s.message = `attempt ${attempt}`
      s.data = undefined
    }
    this.options.diagnostics.jobState(s.id, s.type, 'running', undefined, undefined, attempt)
    return this.ledger.write(this.record, retry ? 'retry' : 'progress')
  }

  /** A progress report (the handler's, or an outside worker's): ignored once the job has ended. */
  progress(fraction: number, message?: string, data?: unknown): Promise<void> {
    const s = this.record.snapshot
    if (!this.isOpen) return Promise.resolve()
    this.checkDepth(data, 'progress data')
    if (s.state === 'queued') {
      s.state = 'running'
      s.startedAt = now()
      s.attempt = Math.max(1, s.attempt)
    }
    s.progress = clamp01(fraction)
    if (message !== undefined) s.message = message
    s.data = data
    s.updatedAt = now()
    return this.ledger.write(this.record, 'progress')
  }

  /** Runs the handler to its outcome; the caller decides what the outcome means (finish, retry). */
  async run(handler: JobHandler, input: unknown): Promise<RunOutcome> {
    const ctx: JobContext = {
      id: this.snapshot.id,
      attempt: this.snapshot.attempt,
      signal: this.controller.signal,
      progress: (fraction, message, data) => void this.progress(fraction, message, data),
    }
    try {
      const result = await handler(input, ctx)
      if (this.controller.signal.aborted) return { state: 'cancelled' }
      this.checkDepth(result, 'the result')
      return { state: 'succeeded', result: result ?? null }
    } catch (err) {
      if (this.controller.signal.aborted) return { state: 'cancelled' }
      return { state: 'failed', error: err instanceof Error ? err : new Error(String(err)) }
    }
  }

  /**
   * Ends the job (see JobLedger.finish: once, whoever takes the gate). Resolves with whether this
   * call ended it; the local record shows the final state either way, so later reports are ignored.
   */
  async finish(state: FinalState, fields: { result?: unknown; error?: string; message?: string } = {}): Promise<boolean> {
    const s = this.record.snapshot
    if (!this.isOpen) return false
    s.state = state
    if (state === 'succeeded') {
      s.progress = 1
      s.result = fields.result ?? null
      delete s.error // an earlier attempt's
    }
    if (fields.error !== undefined) s.error = { message: fields.error }
    if (fields.message !== undefined) s.message = fields.message
    s.finishedAt = s.updatedAt = now()
    s.startedAt ??= s.finishedAt
    const ended = await this.ledger.finish(this.record, state)
    if (ended) this.options.diagnostics.jobState(s.id, s.type, state, Date.parse(s.finishedAt) - Date.parse(s.startedAt), s.error?.message, s.attempt)
    return ended
  }

  /** Stops the handler (its signal aborts) and ends the job `cancelled`. */
  cancel(message?: string): Promise<boolean> {
    const ending = this.finish('cancelled', { message })
    this.controller.abort(new Error(message ?? 'job cancelled'))
    return ending
  }

  /** A failed attempt that will be retried: back to `queued`, with the error, as a progress event. */
  requeue(error: Error, nextAttempt: number): Promise<void> {
    const s = this.record.snapshot
    if (!this.isOpen) return Promise.resolve()
    s.state = 'queued' satisfies JobState
    s.error = { message: error.message }
    s.message = `attempt ${s.attempt} failed: ${error.message}; attempt ${nextAttempt} follows`
    s.updatedAt = now()
    this.options.diagnostics.jobState(s.id, s.type, 'retrying', undefined, error.message, s.attempt)
    return this.ledger.write(this.record, 'progress')
  }

  /** Job data is stored and stringified long after it arrives: refuse what could never be (protocol/json-depth.ts). */
  private checkDepth(value: unknown, what: string): void {
    const limit = this.options.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH
    if (value !== undefined && valueTooDeep(value, limit)) {
      throw new HeraldError('HERALD_ERR_JSON_TOO_DEEP', `${what} is nested deeper than ${limit} levels (--max-json-depth)`)
    }
  }
}

const now = () => new Date().toISOString()
