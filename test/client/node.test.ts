import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { WebSocket } from 'ws'
import { createClient, type JobEvent, type TransportName } from '../../packages/client/src/index.js'
import { startHerald, type TestHerald } from '../support/herald.js'
import { broadcast, until } from '../support/util.js'

let h: TestHerald
before(async () => { h = await startHerald({ publicStreams: true, pollFlushInterval: 0.05 }) })
after(() => h.close())

for (const transport of ['ws', 'sse', 'ndjson', 'lp'] as TransportName[]) {
  test(`Node: the client follows a job to succeeded over ${transport}`, async () => {
    const client = createClient({ url: h.url, transports: [transport], WebSocket })
    const states: string[] = []
    client.on('state', (state, via) => states.push(`${state} ${via ?? ''}`.trim()))
    try {
      const job = await client.startJob('demo', { steps: 5, delayMs: 20 })
      const events: [string, number | undefined][] = []
      const progress: number[] = []
      job.on('event', (e: JobEvent, p) => events.push([e.type, p?.offset]))
      job.on('progress', (p) => progress.push(p))
      assert.deepEqual(await job.result, { steps: 5, elapsedMs: (await job.result as any).elapsedMs })
      assert.equal(job.state, 'succeeded')
      assert.equal(states[0], `connecting ${transport}`)
      assert.ok(states.includes(`connected ${transport}`), states.join(', '))
      // Every event once, in order: running, five steps, succeeded, at offsets 1..7.
      assert.deepEqual(events.map(([, o]) => o), [1, 2, 3, 4, 5, 6, 7])
      assert.deepEqual(events.map(([t]) => t), ['progress', 'progress', 'progress', 'progress', 'progress', 'progress', 'succeeded'])
      assert.equal(progress.at(-1), 1)
    } finally {
      client.close()
    }
  })
}
