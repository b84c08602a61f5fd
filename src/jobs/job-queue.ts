import type { JobState } from './job.js'

/** Where a node sends jobs for workers to run (BullMQ: src/jobs/bullmq/job-queue.ts). */
export interface JobQueue {
  readonly name: string
  /** Adds a job for a worker; its record is stored already. */
  enqueue(id: string, type: string, input: unknown): Promise<void>
  /** Removes a job no worker has taken yet; false when one runs it (or it is gone). */
  remove(id: string): Promise<boolean>
  /** Jobs in the queue by Herald state (queued, running, succeeded, failed). */
  counts(): Promise<Partial<Record<JobState, number>>>
  /** Workers connected to the queue. */
  workers(): Promise<number>
  /** Whether some worker announced it runs `type` (see announceTypes). */
  hasType(type: string): Promise<boolean>
  close(): Promise<void>
}

/** The control topic (Broker.notify) a cancel is sent on; the payload is the job id. */
export const CANCEL_TOPIC = 'jobs.cancel'
