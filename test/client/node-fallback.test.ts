import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, test } from 'node:test'
import { WebSocket } from 'ws'
import { createClient, type Client, type Job, type TransportName } from '../../packages/client/src/index.js'
import { startHerald, type TestHerald } from '../support/herald.js'
import { metric, postJson, until } from '../support/util.js'
import { TestProxy } from './proxy.js'

let h: TestHerald
let proxy: TestProxy
before(async () => {
  h = await startHerald({ pollFlushInterval: 0.05 })
  proxy = await TestProxy.start(h.url)
})
after(async () => {
  await proxy.close()
  await h.close()
})

/** Reports progress for an `external` job, as an outside worker does. */
async function report(job: Job, body: Record<string, unknown>): Promise<void> {
  const res = await postJson(`${h.url}/jobs/${job.id}/progress`, body)
  assert.equal(res.status, 200, JSON.stringify(res.body))
}

/** Records the job's events as "type offset" and the client's states as "state transport". */
function record(client: Client, job: Job) {
  const events: string[] = []
  const states: string[] = []
  job.on('event', (e, p) => events.push(`${e.type} ${p?.offset}`))
  client.on('state', (s, t, why) => states.push(`${s} ${t ?? '-'}${why ? ` (${why})` : ''}`))
  return { events, states }
}

const connectedOn = (client: Client, transport: TransportName) =>
  until(() => client.state === 'connected' && client.transport === transport, `connected over ${transport} (now ${client.state} ${client.transport})`, 20_000)

test('Node: WebSocket refused → SSE; SSE and NDJSON refused too → long polling; WebSocket back → moves up; every event once, in order', async () => {
  proxy.refuseUpgrades = true
  const client = createClient({ url: proxy.url, WebSocket, upgradeAfter: 200, backoff: [50, 500] })
  try {
    const job = await client.startJob('external')
    const { events, states } = record(client, job)
    await connectedOn(client, 'sse')
    assert.match(client.reason ?? '', /^ws: could not open$/)
    await report(job, { progress: 0.1 })
    await report(job, { progress: 0.2 })
    await until(() => events.length === 2, 'two events over SSE')

    proxy.refuse = /^\/(events|stream)$/
    proxy.cut()
    proxy.restore()
    await report(job, { progress: 0.3 }) // published while the client is between wires
    await connectedOn(client, 'lp')
    assert.match(client.reason ?? '', /sse: HTTP 503; ndjson: HTTP 503/)
    await report(job, { progress: 0.4 })
    await until(() => events.length === 4, 'four events')

    proxy.refuseUpgrades = false
    proxy.refuse = undefined
    await connectedOn(client, 'ws')
    assert.equal(client.reason, undefined)
    await report(job, { progress: 0.5 })
    await report(job, { state: 'succeeded', result: { ok: true } })
    assert.deepEqual(await job.result, { ok: true })
    assert.deepEqual(events, ['progress 1', 'progress 2', 'progress 3', 'progress 4', 'progress 5', 'succeeded 6'], states.join('\n'))
  } finally {
    client.close()
    proxy.refuseUpgrades = false
    proxy.refuse = undefined
  }
})

test('Node: a stream a buffering proxy holds back counts as refused after openTimeout; the next transport carries the job', async () => {
  proxy.refuseUpgrades = true
  proxy.hold = /^\/events$/
  const client = createClient({ url: proxy.url, WebSocket, transports: ['ws', 'sse', 'ndjson'], openTimeout: 500 })
  try {
    const job = await client.startJob('external')
    const { events } = record(client, job)
    await connectedOn(client, 'ndjson')
    assert.match(client.reason ?? '', /sse: no welcome in 500 ms/)
    await report(job, { progress: 0.5 })
    await report(job, { state: 'succeeded' })
    await job.result
    assert.deepEqual(events, ['progress 1', 'succeeded 2'])
  } finally {
    client.close()
    proxy.refuseUpgrades = false
    proxy.hold = undefined
  }
})

for (const transport of ['ws', 'sse', 'ndjson', 'lp'] as TransportName[]) {
  test(`Node: a network drop mid-job over ${transport}: events arrive complete, in order, once`, async () => {
    const client = createClient({ url: proxy.url, WebSocket, transports: [transport], backoff: [100, 400] })
    try {
      const job = await client.startJob('external')
      const { events, states } = record(client, job)
      await connectedOn(client, transport)
      const restored = await metric(h.url, 'herald_sessions_restored_total')
      await report(job, { progress: 0.1 })
      await until(() => events.length === 1, 'the first event')
      proxy.cut()
      await report(job, { progress: 0.2 })
      await report(job, { progress: 0.3 })
      await until(() => client.state !== 'connected', 'the client to notice')
      await sleep(1000)
      proxy.restore()
      await report(job, { progress: 0.4 })
      await report(job, { state: 'succeeded' })
      await job.result
      assert.deepEqual(events, ['progress 1', 'progress 2', 'progress 3', 'progress 4', 'succeeded 5'], states.join('\n'))
      assert.ok(states.filter((s) => s.startsWith('connected')).length >= 2, states.join('\n'))
      // A WebSocket comes back as the same session (?sid=), resumed from its positions.
      if (transport === 'ws') assert.equal(await metric(h.url, 'herald_sessions_restored_total'), restored + 1)
    } finally {
      client.close()
      proxy.restore()
    }
  })
}
