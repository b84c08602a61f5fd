import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, test } from 'node:test'
import { WebSocket } from 'ws'
import { signJwt } from '../../src/auth/jwt.js'
import { createClient, JobError, type TransportName } from '../../packages/client/src/index.js'
import { startHerald, type TestHerald } from '../support/herald.js'
import { postJson, until } from '../support/util.js'

const SECRET = 'test-secret'
let h: TestHerald
before(async () => { h = await startHerald({ jwtSecret: SECRET, pollFlushInterval: 0.05 }) })
after(() => h.close())

for (const transport of ['ws', 'sse', 'ndjson', 'lp'] as TransportName[]) {
  test(`Node over ${transport}: unauthorized is a disconnect without reconnect: the client stops and says why; with a token it follows the job`, async () => {
    const job = (await postJson(`${h.url}/jobs`, { type: 'demo', input: { steps: 2, delayMs: 10 } })).body
    const denied = createClient({ url: h.url, transports: [transport], WebSocket, backoff: [5, 5] })
    const states: string[] = []
    denied.on('state', (s) => states.push(s))
    try {
      denied.signedStream(job.signedStream)
      await until(() => denied.reason === 'disconnected: unauthorized', `the stop (${denied.state} ${denied.reason})`)
      // With a 5 ms backoff a retry would show at once; none comes.
      await sleep(200)
      assert.deepEqual(states, ['connecting', 'disconnected'])
    } finally {
      denied.close()
    }
    const token = signJwt({ sub: 'test', exp: Math.floor(Date.now() / 1000) + 60 }, SECRET)
    const client = createClient({ url: h.url, transports: [transport], WebSocket, params: { jid: token } })
    try {
      const followed = await client.job(job.id)
      assert.deepEqual(((await followed.result) as any).steps, 2)
    } finally {
      client.close()
    }
  })
}

test('Node: following a job by id mid-run gets its events from the start; failed and cancelled jobs reject the result', async () => {
  const token = signJwt({ sub: 'test', exp: Math.floor(Date.now() / 1000) + 60 }, SECRET)
  const client = createClient({ url: h.url, WebSocket, params: { jid: token } })
  try {
    const started = (await postJson(`${h.url}/jobs`, { type: 'demo', input: { steps: 6, delayMs: 40 } })).body
    await until(async () => (await (await fetch(`${h.url}/jobs/${started.id}`)).json()).progress >= 0.5, 'half way')
    const job = await client.job(started.id)
    const offsets: number[] = []
    job.on('event', (_e, p) => offsets.push(p!.offset))
    await job.result
    assert.deepEqual(offsets, [1, 2, 3, 4, 5, 6, 7, 8], 'the events before following were delivered too')

    const failing = await client.startJob('demo', { steps: 3, delayMs: 10, failAt: 2 })
    await assert.rejects(failing.result, (err) => err instanceof JobError && err.state === 'failed' && /failed at step 2/.test(err.message))
    const long = await client.startJob('demo', { steps: 100, delayMs: 50 })
    await until(() => long.state === 'running', 'running')
    await long.cancel()
    await assert.rejects(long.result, (err) => err instanceof JobError && err.state === 'cancelled')

    // A finished job: following it settles at once from its snapshot.
    const done = await client.job(started.id)
    assert.equal(done.state, 'succeeded')
    assert.deepEqual(await done.result, await job.result)
  } finally {
    client.close()
  }
})
