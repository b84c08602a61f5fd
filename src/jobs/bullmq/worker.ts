import { randomBytes } from 'node:crypto'
import { UnrecoverableError, Worker, type Job } from 'bullmq'
import type { Broker, BrokerEvents } from '../../broker/broker.js'
import { createBroker } from '../../broker/create-broker.js'
import type { HeraldConfig } from '../../config/schema.js'
import { Diagnostics } from '../../observability/diagnostics.js'
import { createLogger, logEvents, type HeraldLogger } from '../../observability/logger.js'
import { canonicalData } from '../../protocol/messages.js'
import { isFinalState } from '../job-events.js'
import { JobExecution } from '../job-execution.js'
import { JobLedger } from '../job-ledger.js'
import { CANCEL_TOPIC } from '../job-queue.js'
import { jobStream, type JobRecord, type JobTypeDefinition } from '../job.js'
import { connection, queueTarget, TYPES_NAMESPACE, TYPES_TTL_MS } from './connection.js'

export interface HeraldWorkerOptions {
  /** The same configuration as the nodes' (broker, prefix, queue, jobs options). */
  config: Readonly<HeraldConfig>
  /** Job types by name; each needs a handler. */
  types: Record<string, JobTypeDefinition>
  logger?: HeraldLogger
  /** A broker of the caller's own; by default the one `--broker` names. */
  createBroker?: (events: BrokerEvents, config: Readonly<HeraldConfig>) => Broker
}

/**
 * A BullMQ worker that runs Herald job handlers, anywhere: it takes jobs from the queue (with
 * BullMQ's concurrency, retries with backoff and stalled-job recovery), and writes their records
 * and events through the broker as an in-process job would, so subscribers on any node follow it.
 * A cancel from any node (Broker.notify) aborts the handler's signal.
 */
export class HeraldWorker {
  readonly id = randomBytes(6).toString('base64url')
  readonly diagnostics = new Diagnostics()
  readonly log: HeraldLogger
  readonly broker: Broker
  private readonly ledger: JobLedger
  private readonly worker: Worker
  /** Attempts running in this process, by job id. */
  private readonly active = new Map<string, JobExecution>()
  private readonly stopLogging: () => void
  private announceTimer: NodeJS.Timeout | undefined

  private constructor(private readonly options: HeraldWorkerOptions) {
    const { config } = options
    this.log = options.logger ?? createLogger(config.logLevel, undefined, config.logFormat)
    this.stopLogging = logEvents(this.diagnostics, this.log)
    this.broker = (options.createBroker ?? createBroker)({
      message: () => {},
      notified: (topic, payload) => { if (topic === CANCEL_TOPIC) this.cancelled(payload) },
      stateChanged: (state, detail) => this.diagnostics.brokerState(this.broker.kind, state, detail),
      // The broker may have come back without its data: this worker's jobs must still be able to end.
      resubscribed: () => { for (const execution of this.active.values()) if (execution.isOpen) void this.ledger.refresh(execution.record) },
    }, config)
    const ttlMs = config.jobsTtl * 1000
    this.ledger = new JobLedger(this.broker.store('jobs', ttlMs), this.broker.store('jobs-open', ttlMs), {
      publish: (stream, data) => this.broker.publish(stream, canonicalData(data, config.maxJsonDepth)),
    }, (op, err) => this.diagnostics.brokerError(op, err))
    const target = queueTarget(config)
    this.worker = new Worker(target.name, (job, _token, signal) => this.process(job, signal), {
      connection: connection(target),
      prefix: target.prefix,
      concurrency: config.jobsConcurrency,
      lockDuration: config.jobsLockDuration * 1000,
      stalledInterval: config.jobsStalledInterval * 1000,
      autorun: false,
      name: `herald-worker-${this.id}`,
    })
    this.worker.on('error', (err) => this.diagnostics.brokerError(`bullmq worker on ${target.name}`, err))
    // Failed for good outside the handler (stalled too often): the job still gets its final event.
    this.worker.on('failed', (job, err) => { if (job) void this.failedOutside(job, err) })
  }

  /** Connects the broker, announces the job types, and starts taking jobs. */
  static async start(options: HeraldWorkerOptions): Promise<HeraldWorker> {
    for (const [type, def] of Object.entries(options.types)) {
      if (typeof def?.handler !== 'function') throw new TypeError(`job type ${JSON.stringify(type)} has no handler`)
    }
    const w = new HeraldWorker(options)
    await w.broker.start()
    await w.announce()
    w.announceTimer = setInterval(() => void w.announce(), TYPES_TTL_MS / 3)
    w.announceTimer.unref()
    void w.worker.run()
    await w.worker.waitUntilReady()
    w.log.notice({ worker: w.id, queue: w.worker.name, types: Object.keys(options.types), concurrency: options.config.jobsConcurrency, broker: w.broker.kind }, 'herald worker running')
    return w
  }

  /** Jobs this worker runs right now. */
  get runningCount(): number {
    return this.active.size
  }

  /**
   * Stops taking jobs and waits up to `graceMs` for the running ones; what still runs then is
   * abandoned to BullMQ's stall detection, which retries it on another worker.
   */
  async close(graceMs = 10_000): Promise<void> {
    clearInterval(this.announceTimer)
    const closing = this.worker.close()
    const timer = setTimeout(() => void this.worker.close(true), graceMs)
    await closing.catch(() => {})
    clearTimeout(timer)
    await this.broker.close()
    this.stopLogging()
  }

  private async process(job: Job, signal: AbortSignal | undefined): Promise<unknown> {
    const def = this.options.types[job.name]
    if (!def?.handler) throw new UnrecoverableError(`this worker has no handler for job type ${JSON.stringify(job.name)}`)
    const id = job.id!
    const record = (await this.ledger.read(id)) ?? (await this.adopt(job))
    const s = record.snapshot
    // Ended already (cancelled while queued, or finished by an attempt whose worker died before BullMQ heard).
    if (isFinalState(s.state)) {
      if (s.state === 'succeeded') return s.result
      throw new UnrecoverableError(`job ${s.state}`)
    }
    const execution = new JobExecution(record, this.ledger, { diagnostics: this.diagnostics, maxJsonDepth: this.options.config.maxJsonDepth })
    this.active.set(id, execution)
    signal?.addEventListener('abort', () => execution.controller.abort(signal.reason), { once: true })
    try {
      const input = def.parseInput ? def.parseInput(job.data) : job.data
      await execution.begin(Math.max(1, job.attemptsStarted))
      const outcome = await execution.run(def.handler, input)
      if (outcome.state === 'succeeded') {
        await execution.finish('succeeded', { result: outcome.result })
        return outcome.result
      }
      if (outcome.state === 'cancelled') {
        await execution.finish('cancelled')
        throw new UnrecoverableError('job cancelled')
      }
      const last = outcome.error instanceof UnrecoverableError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1)
      if (last) await execution.finish('failed', { error: outcome.error.message })
      else await execution.requeue(outcome.error, execution.snapshot.attempt + 1)
      throw outcome.error
    } finally {
      await this.ledger.settled(id)
      this.active.delete(id)
    }
  }

  /** A job added to the queue by BullMQ itself, not POST /jobs: it gets a record, and is followed like any other. */
  private async adopt(job: Job): Promise<JobRecord> {
    const at = new Date(job.timestamp || Date.now()).toISOString()
    const id = job.id!
    const record: JobRecord = {
      snapshot: {
        id, type: job.name, stream: jobStream(id), state: 'queued', progress: 0, message: null,
        createdAt: at, startedAt: null, finishedAt: null, updatedAt: at, attempt: 0, runner: 'queue',
      },
      input: job.data,
    }
    await this.ledger.create(record)
    return record
  }

  /** A cancel from some node: the handler's signal aborts and `cancelled` is published here. */
  private cancelled(id: string): void {
    const execution = this.active.get(id)
    if (!execution?.isOpen) return
    void execution.cancel()
    this.worker.cancelJob(id, 'job cancelled')
  }

  private async failedOutside(job: Job, err: Error): Promise<void> {
    if (this.active.has(job.id!)) return // its own attempt: handled in process()
    try {
      if (!(await job.isFailed())) return
      const record = await this.ledger.read(job.id!)
      if (!record || isFinalState(record.snapshot.state)) return
      await new JobExecution(record, this.ledger, { diagnostics: this.diagnostics }).finish('failed', { error: err?.message ?? job.failedReason })
    } catch (e) {
      this.diagnostics.brokerError(`final state of job ${job.id}`, e)
    }
  }

  /** Tells the nodes which types this worker runs (POST /jobs accepts them). */
  private async announce(): Promise<void> {
    const store = this.broker.store(TYPES_NAMESPACE, TYPES_TTL_MS)
    try {
      await Promise.all(Object.keys(this.options.types).map((type) => store.set(`${this.worker.name}/${type}`, this.id)))
    } catch (err) {
      this.diagnostics.brokerError('announcing job types', err)
    }
  }
}

/** Starts a Herald worker (the library call behind `herald worker`). */
export function startWorker(options: HeraldWorkerOptions): Promise<HeraldWorker> {
  return HeraldWorker.start(options)
}
