import type { HeraldConfig } from '../config/schema.js'
import type { Hub } from '../hub/hub.js'
import type { Diagnostics } from '../observability/diagnostics.js'
import { BullJobQueue } from './bullmq/job-queue.js'
import { queueTarget, TYPES_NAMESPACE, TYPES_TTL_MS } from './bullmq/connection.js'
import { QueueFollower } from './bullmq/follower.js'
import { demoJob } from './demo-job.js'
import { JobLedger } from './job-ledger.js'
import { JobManager } from './job-manager.js'
import { CANCEL_TOPIC } from './job-queue.js'

/**
 * A node's jobs, as the configuration asks: records in the broker's store, handlers in this
 * process (`--jobs process`) or on BullMQ workers (`--jobs bullmq`), cancels sent to every node
 * and worker over the broker's control channel, followers of other BullMQ queues (`--jobs-follow`).
 */
export function createJobManager(hub: Hub, config: Readonly<HeraldConfig>, diagnostics: Diagnostics): JobManager {
  const ttlMs = config.jobsTtl * 1000
  const broker = hub.broker
  const ledger = new JobLedger(broker.store('jobs', ttlMs), broker.store('jobs-open', ttlMs), hub, (op, err) => diagnostics.brokerError(op, err))
  const queue = config.jobs === 'bullmq'
    ? new BullJobQueue(queueTarget(config), {
      attempts: config.jobsAttempts,
      backoffMs: config.jobsBackoff * 1000,
      keepMs: ttlMs,
      types: broker.store(TYPES_NAMESPACE, TYPES_TTL_MS),
    })
    : undefined
  const jobs = new JobManager(ledger, {
    ttlMs,
    diagnostics,
    maxJsonDepth: config.maxJsonDepth,
    queue,
    notifyCancel: (id) => broker.notify(CANCEL_TOPIC, id),
  })
  hub.onNotified(CANCEL_TOPIC, (id) => jobs.cancelled(id))
  hub.onResubscribed(() => jobs.refreshOpen())
  jobs.define('demo', demoJob)
  jobs.define('external', { description: 'driven by an outside worker via POST /jobs/:id/progress' })
  for (const name of config.jobsFollow.split(',').map((q) => q.trim()).filter(Boolean)) {
    const follower = new QueueFollower(queueTarget(config, name), ledger, { diagnostics, maxJsonDepth: config.maxJsonDepth })
    jobs.addService(follower)
  }
  return jobs
}
