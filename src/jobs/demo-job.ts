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

/** The built-in `demo` job: `steps` steps of `delayMs` each, reporting progress after every step. */
export const demoJob: JobTypeDefinition<DemoInput, { steps: number; elapsedMs: number }> = {
  description: 'counts through {steps, delayMs} and reports each step',
  parseInput: (input) => demoInput.parse(input ?? {}),
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
