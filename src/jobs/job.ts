/** A job's life: queued → running → exactly one of succeeded, failed, cancelled. */
export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled'
export const FINAL_STATES: ReadonlySet<JobState> = new Set(['succeeded', 'failed', 'cancelled'])

/** What GET /jobs/:id returns and a late subscriber receives first. */
export interface JobSnapshot {
  id: string
  type: string
  stream: string
  state: JobState
  /** 0..1 */
  progress: number
  message: string | null
  data?: unknown
  result?: unknown
  error?: { message: string }
  createdAt: string
  startedAt: string | null
  finishedAt: string | null
  updatedAt: string
  /** The attempt running or last run, from 1 (0 while queued before the first); above 1 after a retry (a queue worker's). */
  attempt: number
  /** Where it runs: `process` (a handler in a Herald node), `queue` (a BullMQ worker), `external` (POST /jobs/:id/progress), `follow` (a BullMQ job Herald did not start). */
  runner: JobRunner
}

export type JobRunner = 'process' | 'queue' | 'external' | 'follow'

/**
 * What the broker's store keeps per job (key: the id, for --jobs-ttl after its last change): the
 * snapshot, the input it was started with, and for an in-process job the node running it.
 */
export interface JobRecord {
  snapshot: JobSnapshot
  input?: unknown
  /** The node whose process runs it (runner `process`): a cancel elsewhere is sent there. */
  node?: string
}

/** Event types on `job:<id>`: `retry` marks a new attempt after a failed or lost one (a worker killed mid-job). */
export type JobEventType = 'progress' | 'retry' | 'succeeded' | 'failed' | 'cancelled'

/** What a job handler gets besides its input. */
export interface JobContext {
  readonly id: string
  /** Which attempt this is, from 1 (a queue worker retries a failed or lost job). */
  readonly attempt: number
  /** Aborted when the job is cancelled (POST /jobs/:id/cancel on any node, or shutdown). */
  readonly signal: AbortSignal
  /** Reports progress: `fraction` in 0..1 (clamped), an optional message and JSON data. */
  progress(fraction: number, message?: string, data?: unknown): void
}

export type JobHandler<I = any, R = unknown> = (input: I, context: JobContext) => Promise<R> | R

export interface JobTypeDefinition<I = any, R = unknown> {
  /**
   * Runs the job in this process. Without one the job is driven from outside via
   * POST /jobs/:id/progress (a worker elsewhere).
   */
  handler?: JobHandler<I, R>
  /** Validates and normalises the input; throw to answer 400 (a ZodError's issues are named by path). Its return value is the input. */
  parseInput?: (input: unknown) => I
  description?: string
}

/** The stream a job's events are published on. */
export function jobStream(id: string): string {
  return `job:${id}`
}
