import type { Herald } from '../../src/index.js'
import { until } from './util.js'

/** What the test tells a running `stepped` job to do next. */
type Command =
  | { kind: 'progress'; fraction: number; message?: string; data?: unknown; done: () => void }
  | { kind: 'succeed'; result: unknown; done: () => void }
  | { kind: 'fail'; message: string; done: () => void }

/** One job's queue of commands; the handler takes them one by one. */
class Run {
  running = false
  private readonly queue: Command[] = []
  private waiter: ((c: Command) => void) | undefined

  push(command: Command): void {
    const waiter = this.waiter
    this.waiter = undefined
    if (waiter) waiter(command)
    else this.queue.push(command)
  }

  next(signal: AbortSignal): Promise<Command> {
    const queued = this.queue.shift()
    if (queued) return Promise.resolve(queued)
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason)
      this.waiter = resolve
      signal.addEventListener('abort', () => reject(signal.reason), { once: true })
    })
  }
}

/** A started `stepped` job and the calls that drive it. */
export interface SteppedJob {
  id: string
  stream: string
  signedStream: string
  /** Resolves once the handler runs (its start event, progress 0, is published by then). */
  started(): Promise<void>
  /** The handler reports progress; resolves once it has. */
  progress(fraction: number, message?: string, data?: unknown): Promise<void>
  /** The handler returns `result`: the job succeeds. */
  succeed(result?: unknown): Promise<void>
  /** The handler throws: the job fails with `message`. */
  fail(message: string): Promise<void>
}

/**
 * A test-only job type whose steps the test drives, instead of racing a timed demo job: each
 * step happens when the test says so, so a reader can be known to be subscribed before it.
 * Events on the job's stream: `progress` 0 when it starts (offset 1), one `progress` per
 * `progress()` call, then `succeeded` or `failed`.
 */
export class SteppedJobs {
  private readonly runs = new Map<string, Run>()

  constructor(herald: Herald, readonly type = 'stepped') {
    herald.defineJob(type, {
      description: 'test-only: each step waits for the test',
      handler: async (_input: unknown, ctx) => {
        const run = this.run(ctx.id)
        run.running = true
        for (;;) {
          const command = await run.next(ctx.signal)
          if (command.kind === 'progress') {
            ctx.progress(command.fraction, command.message, command.data)
            command.done()
          } else if (command.kind === 'succeed') {
            // Resolved after the return, once the job manager has published the outcome.
            setImmediate(command.done)
            return command.result
          } else {
            setImmediate(command.done)
            throw new Error(command.message)
          }
        }
      },
    })
  }

  /** Starts one through `POST /jobs`, as a client would. */
  async start(baseUrl: string, headers: Record<string, string> = {}): Promise<SteppedJob> {
    const res = await fetch(`${baseUrl}/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ type: this.type }),
    })
    if (res.status !== 201) throw new Error(`POST /jobs answered ${res.status}: ${await res.text()}`)
    const job = await res.json()
    const run = this.run(job.id)
    const send = (make: (done: () => void) => Command) => new Promise<void>((done) => run.push(make(done)))
    return {
      id: job.id,
      stream: job.stream,
      signedStream: job.signedStream,
      started: async () => { await until(() => run.running, `job ${job.id} running`) },
      progress: (fraction, message, data) => send((done) => ({ kind: 'progress', fraction, message, data, done })),
      succeed: (result = { ok: true }) => send((done) => ({ kind: 'succeed', result, done })),
      fail: (message) => send((done) => ({ kind: 'fail', message, done })),
    }
  }

  private run(id: string): Run {
    let run = this.runs.get(id)
    if (!run) this.runs.set(id, (run = new Run()))
    return run
  }
}
