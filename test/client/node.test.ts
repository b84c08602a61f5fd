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

for (const transport of ['ws', 'sse', 'ndjson', 'lp'] as TransportName[]) {
  test(`Node over ${transport}: a refused stream and one that cannot be resumed are reported; the other streams carry on`, async () => {
    const client = createClient({ url: h.url, transports: [transport], WebSocket })
    try {
      const stream = `rejects/${transport}`
      const [{ epoch }] = await broadcast(h.url, { stream, data: '{"n":0}' })
      const rejects: string[] = []
      const seen: [number, number | undefined][] = []
      // A position from an epoch that never was: the stream goes live, but its gap is reported.
      const live = client.stream(stream, { position: { stream, epoch: `${epoch}x`, offset: 1 } })
      live.on('reject', (why) => rejects.push(`live ${why}`))
      live.on('message', (m, p) => seen.push([m.n, p?.offset]))
      // A signed name with a bad signature is refused.
      const bad = client.signedStream('bm90LXNpZ25lZA==--0000')
      bad.on('reject', (why) => rejects.push(`bad ${why}`))
      await until(() => rejects.length === 2, `both rejections (${rejects})`)
      assert.deepEqual(rejects.sort(), ['bad reject_subscription', 'live reject_history'])
      await until(() => h.herald.subscriberCount(stream) === 1, 'the live stream subscribed')
      await broadcast(h.url, [{ stream, data: '{"n":1}' }, { stream, data: '{"n":2}' }])
      await until(() => seen.length === 2, 'the live messages')
      assert.deepEqual(seen, [[1, 2], [2, 3]])
    } finally {
      client.close()
    }
  })
}
