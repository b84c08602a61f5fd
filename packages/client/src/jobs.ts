import type { Position } from './codec.js'
import { Emitter } from './emitter.js'
import type { Subscription } from './subscription.js'

export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled'

/** A job as `POST /jobs` and `GET /jobs/:id` return it. */
export interface JobInfo {
  id: string
  type: string
  stream: string
  signedStream: string
  state: JobState
  /** 0..1 */
  progress: number
  message: string | null
  data?: unknown
  result?: unknown
  error?: { message: string }
  createdAt: string
  updatedAt: string
  [field: string]: unknown
}

/** An event on `job:<id>`: `progress`, then one of `succeeded`, `failed`, `cancelled`. */
export interface JobEvent {
  type: 'progress' | 'succeeded' | 'failed' | 'cancelled'
  job: string
  state: JobState
  progress: number
  message: string | null
  data?: unknown
  result?: unknown
  error?: { message: string }
  at: string
}

export interface JobEvents {
  progress: (progress: number, message: string | null, data: unknown) => void
  state: (state: JobState) => void
  /** Every event of the job's stream, once each, in order, with its position. */
  event: (event: JobEvent, position: Position | undefined) => void
  /** The job's stream was refused, or could not be resumed (its state still comes with the snapshot). */
  reject: (why: 'reject_subscription' | 'reject_history') => void
}

/** Rejects `job.result` for a job that `failed` or was `cancelled`. */
export class JobError extends Error {
  constructor(readonly state: JobState, message = `job ${state}`) {
    super(message)
  }
}

/** What a job needs from its client. */
export interface JobHost {
  signedStream(signed: string, options: { since: number }): Subscription
  _api(path: string, body?: unknown): Promise<JobInfo>
}

const FINAL = ['succeeded', 'failed', 'cancelled']

/** A job followed on its stream; `result` settles with its outcome. */
export class Job extends Emitter<JobEvents> {
  readonly id: string
  state: JobState
  progress = 0
  message: string | null = null
  /** Resolves with the result on `succeeded`; rejects with a JobError on `failed` or `cancelled`. */
  readonly result: Promise<unknown>
  private _settle!: [(v: unknown) => void, (e: Error) => void]
  /** `at` of the last event: a snapshot older than it is stale. */
  private _at = ''
  private _sub?: Subscription
  private _done = false

  constructor(private readonly _host: JobHost, info: JobInfo) {
    super()
    this.id = info.id
    this.state = info.state
    this.result = new Promise((res, rej) => (this._settle = [res, rej]))
    // Not awaiting the result is fine; awaiting it still sees the rejection.
    this.result.catch(() => {})
    this._apply(info)
    if (this._done) return
    // From the job's creation: every event it ever had, whenever this subscription starts.
    this._sub = _host.signedStream(info.signedStream, { since: Math.floor(Date.parse(info.createdAt) / 1000) })
    this._sub.on('message', (m: any, position) => {
      if (m.type === 'snapshot') {
        // A snapshot follows each (re)subscription; one taken before the last event is old news.
        if (m.job.updatedAt >= this._at) this._apply(m.job)
        return
      }
      this._at = m.at
      this._emit('event', m, position)
      this._apply(m)
    })
    this._sub.on('reject', (why) => {
      this._emit('reject', why)
      if (why === 'reject_subscription') this._settle[1](new JobError(this.state, 'job stream refused'))
    })
  }

  /** Asks Herald to cancel it (`POST /jobs/:id/cancel`); `cancelled` then arrives as an event. */
  cancel(): Promise<JobInfo> {
    return this._host._api(`/jobs/${encodeURIComponent(this.id)}/cancel`, {})
  }

  private _apply(s: JobInfo | JobEvent): void {
    if (this._done) return
    const before = this.state
    this.state = s.state
    this.progress = s.progress
    this.message = s.message
    this._emit('progress', s.progress, s.message, s.data)
    if (s.state !== before) this._emit('state', s.state)
    if (!FINAL.includes(s.state)) return
    this._done = true
    this._sub?.unsubscribe()
    if (s.state === 'succeeded') this._settle[0](s.result)
    else this._settle[1](new JobError(s.state, s.error?.message))
  }
}
