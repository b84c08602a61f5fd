import type { HeraldConfig } from '../../config/schema.js'

/** What the BullMQ pieces share: the queue's Redis, name and key prefix. */
export interface QueueTarget {
  url: string
  name: string
  prefix: string
}

/** The queue `--jobs-queue` names on `--jobs-redis-url` (else the broker's Redis, else the local one). */
export function queueTarget(config: Readonly<HeraldConfig>, name = config.jobsQueue): QueueTarget {
  return { url: config.jobsRedisUrl || config.redisUrl || 'redis://127.0.0.1:6379', name, prefix: config.jobsQueuePrefix }
}

/**
 * BullMQ connection options. `maxRetriesPerRequest: null` is what BullMQ requires of a worker's
 * blocking connection; the others take it too so a Redis restart is waited out, not failed.
 */
export function connection(target: QueueTarget) {
  return { url: target.url, maxRetriesPerRequest: null }
}

/** Store namespace of the job types workers announce (key `<queue>/<type>`). */
export const TYPES_NAMESPACE = 'job-types'
/** How long an announced type stays known without its worker renewing it, ms. */
export const TYPES_TTL_MS = 60_000
