import { setTimeout as sleep } from 'node:timers/promises'
import { z } from 'zod'
import type { JobTypeDefinition } from './job.js'

const demoInput = z.strictObject({
  steps: z.number().int().min(1).max(10_000).default(10),
  delayMs: z.number().int().min(0).max(60_000).default(300),
  /** Fail at this step, to show the failed path. */
  failAt: z.number().int().min(1).optional(),
})

export type DemoInput = z.infer<typeof demoInput>

/** The demo job's longest run by default (--demo-job-max-duration), ms. */
export const DEMO_MAX_DURATION_MS = 600_000

/**
 * The built-in `demo` job: `steps` steps of `delayMs` each, reporting progress after every step.
 * Its whole run, `steps × delayMs`, is at most `maxDurationMs` (one request could otherwise hold
 * a job for days): more is refused with 400 when the job is started.
 */
export function demoJobType(maxDurationMs = DEMO_MAX_DURATION_MS): JobTypeDefinition<DemoInput, { steps: number; elapsedMs: number }> {
  const input = demoInput.refine((v) => v.steps * v.delayMs <= maxDurationMs, {
    message: `steps × delayMs must not exceed ${maxDurationMs} ms (--demo-job-max-duration)`,
  })
  return {
    description: 'counts through {steps, delayMs} and reports each step',
    parseInput: (raw) => input.parse(raw ?? {}),
    async handler({ steps, delayMs, failAt }, ctx) {
      const started = Date.now()
      for (let step = 1; step <= steps; step++) {
        await sleep(delayMs, undefined, { signal: ctx.signal })
        if (failAt === step) throw new Error(`failed at step ${step} as asked`)
        ctx.progress(step / steps, `step ${step} of ${steps}`, { step })
      }
      return { steps, elapsedMs: Date.now() - started }
    },
  }
}

/** The demo job with the default limit. */
export const demoJob = demoJobType()
