import type { StreamMessage } from '../protocol/messages.js'
import { FINAL_STATES, type JobEventType, type JobSnapshot, type JobState } from './job.js'

/**
 * One event on a job's stream: the snapshot's live fields with `type` first (so a prefix test
 * finds the final one, see isFinalJobEvent) and `at` = the snapshot's `updatedAt` (a client drops
 * a snapshot older than the last event it saw).
 */
export function jobEvent(s: JobSnapshot, type: JobEventType): Record<string, unknown> {
  const event: Record<string, unknown> = { type, job: s.id, state: s.state, progress: s.progress, message: s.message, attempt: s.attempt, at: s.updatedAt }
  if (s.data !== undefined && (type === 'progress' || type === 'retry')) event.data = s.data
  if (type === 'succeeded') event.result = s.result
  // A failed attempt's error goes with the event that requeues it (state queued) and with the retry.
  if (type === 'failed' || ((type === 'retry' || s.state === 'queued') && s.error)) event.error = s.error
  return event
}

const FINAL_EVENT = /^\{"type":"(?:succeeded|failed|cancelled)"/

/** Event text is canonical JSON with `type` first (jobEvent), so a prefix test suffices. */
export function isFinalJobEvent(message: StreamMessage): boolean {
  return message.stream.startsWith('job:') && FINAL_EVENT.test(message.data)
}

export function isFinalState(state: JobState): boolean {
  return FINAL_STATES.has(state)
}

export const clamp01 = (n: number): number => (Number.isFinite(n) ? Math.min(1, Math.max(0, n)) : 0)
