// Issue #11, "a client always learns where its job stands": whenever a job stream's history
// cannot be served, the subscriber gets the job's current snapshot, on every transport.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { createCable, type Cable } from '@anycable/core'
import { WebSocket } from 'ws'
import { startHerald, WireClient, type TestHerald } from '../support/herald.js'
import { lpPost, StreamReader } from '../transport/http-clients.js'
import { TcpRelay } from '../support/relay.js'
import { metric, postJson, until } from '../support/util.js'

let h: TestHerald
// The WebSocket client goes through it, so a test can cut its connection as a network would.
let relay: TcpRelay & { url: string }
before(async () => {
  h = await startHerald({ historyLimit: 10 })
  relay = await TcpRelay.to(h.url)
})
after(async () => {
  relay.close()
  await h.close()
})

const cables: Cable[] = []
after(() => { for (const c of cables) c.disconnect() })

function cable(): Cable {
  const c = createCable(`${relay.url.replace('http', 'ws')}/cable`, {
    websocketImplementation: WebSocket,
    protocol: 'actioncable-v1-ext-json',
    logLevel: 'error',
    reconnectStrategy: () => 600_000, // the test reconnects by itself
  })
  cables.push(c)
  return c
}

async function startDemo(steps: number, delayMs: number) {
  const res = await postJson(`${h.url}/jobs`, { type: 'demo', input: { steps, delayMs } })
  assert.equal(res.status, 201)
  return res.body
}

const finished = (id: string) => until(async () => {
  const job = await (await fetch(`${h.url}/jobs/${id}`)).json()
  return job.state === 'succeeded'
}, 'the job to succeed', 20_000)

test('@anycable/core: cut at offset 20 of a 200-step job, restored after it finished: learns it succeeded', async () => {
  const c = cable()
  const job = await startDemo(200, 10)
  const channel = c.streamFromSigned(job.signedStream)
  const got: any[] = []
  channel.on('message', (m: any) => { got.push(m) })
  await channel.ensureSubscribed()
  await until(() => got.some((m) => m.type === 'progress' && m.progress >= 0.1), 'about 20 progress events')
  relay.cut()
  await until(() => c.state === 'disconnected', 'the client notices the drop')
  await finished(job.id)
  const seen = got.length
  const rejected = await metric(h.url, 'herald_history_rejected_total')
  assert.ok(c.monitor!.reconnectNow())
  // History after its offset is gone (--history-limit 10): it hears reject_history, then the snapshot.
  const last = await until(() => got.slice(seen).find((m) => m.type === 'snapshot' || m.type === 'succeeded'), 'where the job stands', 10_000)
  const state = last.type === 'snapshot' ? last.job.state : last.type
  assert.equal(state, 'succeeded')
  if (last.type === 'snapshot') assert.equal(last.job.progress, 1)
  assert.equal(c.state, 'connected')
  assert.ok(await metric(h.url, 'herald_history_rejected_total') > rejected, 'its history was rejected, so the snapshot was its only news')
  c.disconnect()
})

// ---- every transport: a resume position the stream no longer keeps -------------------------------

/** A job driven by hand (the `external` type) with 20 progress events, more than --history-limit 10 keeps. */
async function evictedJob() {
  const job = (await postJson(`${h.url}/jobs`, { type: 'external' })).body
  for (let i = 1; i <= 20; i++) await postJson(`${h.url}/jobs/${job.id}/progress`, { progress: i / 40, message: `step ${i}` })
  const { top } = await h.herald.hub.history(job.stream, { limit: 0 })
  return { job, epoch: top.epoch, report: (body: unknown) => postJson(`${h.url}/jobs/${job.id}/progress`, body) }
}

const isSnapshot = (m: any) => m?.type === 'snapshot'
const identifierOf = (signedStream: string) => JSON.stringify({ channel: '$pubsub', signed_stream_name: signedStream })
const historyAt = (stream: string, epoch: string, offset: number) => ({ streams: { [stream]: { offset, epoch } } })

test('WebSocket, plain resume (a new session subscribing with a lost position): reject_history, the snapshot, then live events', async () => {
  const { job, epoch, report } = await evictedJob()
  const c = await WireClient.connect(h.wsUrl)
  await c.waitForType('welcome')
  const identifier = identifierOf(job.signedStream)
  c.send({ command: 'subscribe', identifier, history: historyAt(job.stream, epoch, 5) })
  await c.waitForType('reject_history')
  const snap = await c.waitFor((m) => isSnapshot(m.message))
  assert.equal(snap.message.job.state, 'running')
  assert.equal(snap.message.job.progress, 0.5)
  await report({ state: 'succeeded', result: 7 })
  const done = await c.waitFor((m) => m.message?.type === 'succeeded')
  assert.equal(done.offset, 21)
  c.close()
})

test('SSE: GET /jobs/:id/events and GET /events with a lost Last-Event-ID get the snapshot, then the rest', async () => {
  const { job, epoch, report } = await evictedJob()
  const lastEventId = { 'last-event-id': `5/${epoch}/${job.stream}` }
  const own = await StreamReader.sse(`${h.url}/jobs/${job.id}/events`, lastEventId)
  const generic = await StreamReader.sse(`${h.url}/events?signed_stream=${encodeURIComponent(job.signedStream)}`, lastEventId)
  for (const r of [own, generic]) {
    assert.equal(r.status, 200)
    const snap = await r.waitFor(() => r.data.find(isSnapshot), 'the snapshot')
    assert.equal(snap.job.progress, 0.5)
  }
  assert.ok(generic.events.some((e) => e.event === 'reject_history'))
  await report({ state: 'failed', error: 'boom' })
  for (const r of [own, generic]) await r.waitFor(() => r.data.find((m) => m.type === 'failed'), 'the final event')
  await own.waitEnded()
  generic.destroy()
})

test('NDJSON: GET /jobs/:id/stream and GET /stream with a lost ?after= get reject_history and the snapshot', async () => {
  const { job, epoch, report } = await evictedJob()
  const own = await StreamReader.ndjson(`${h.url}/jobs/${job.id}/stream?after=5&epoch=${epoch}`)
  const generic = await StreamReader.ndjson(`${h.url}/stream?signed_stream=${encodeURIComponent(job.signedStream)}&after=5&epoch=${epoch}`)
  for (const r of [own, generic]) {
    assert.equal(r.status, 200)
    await r.waitFor(() => r.lines.find((l) => l.type === 'reject_history'), 'reject_history')
    const snap = await r.waitFor(() => r.lines.find((l) => isSnapshot(l.message)), 'the snapshot')
    assert.equal(snap.message.job.progress, 0.5)
  }
  await report({ state: 'succeeded', result: 1 })
  for (const r of [own, generic]) await r.waitFor(() => r.lines.find((l) => l.message?.type === 'succeeded'), 'the final event')
  await own.waitEnded()
  generic.destroy()
})

test('NDJSON and SSE on a finished job whose resume position is lost: the final snapshot, then the end', async () => {
  const { job, epoch, report } = await evictedJob()
  await report({ state: 'succeeded', result: 2 })
  const nd = await StreamReader.ndjson(`${h.url}/jobs/${job.id}/stream?after=5&epoch=${epoch}`)
  const sse = await StreamReader.sse(`${h.url}/jobs/${job.id}/events`, { 'last-event-id': `5/${epoch}/${job.stream}` })
  await nd.waitEnded()
  await sse.waitEnded()
  assert.equal(nd.lines.find((l) => isSnapshot(l.message))?.message.job.result, 2)
  assert.equal(sse.data.find(isSnapshot)?.job.result, 2)
})

test('long polling: a subscribe whose history is lost answers reject_history and the snapshot; the final event follows', async () => {
  const { job, epoch, report } = await evictedJob()
  const identifier = identifierOf(job.signedStream)
  const first = await lpPost(`${h.url}/lp`, { body: JSON.stringify({ command: 'subscribe', identifier, history: historyAt(job.stream, epoch, 5) }) })
  assert.equal(first.status, 200)
  const all = [...first.lines]
  for (let i = 0; i < 20 && !all.some((l) => isSnapshot(l.message)); i++) all.push(...(await lpPost(`${h.url}/lp`, { pollId: first.pollId })).lines)
  assert.ok(all.some((l) => l.type === 'reject_history'))
  assert.equal(all.find((l) => isSnapshot(l.message)).message.job.progress, 0.5)
  await report({ state: 'succeeded', result: 3 })
  for (let i = 0; i < 20 && !all.some((l) => l.message?.type === 'succeeded'); i++) all.push(...(await lpPost(`${h.url}/lp`, { pollId: first.pollId })).lines)
  assert.equal(all.find((l) => l.message?.type === 'succeeded').offset, 21)
})

test('per-job poll: 410 with the snapshot for a lost cursor; a cursor ahead of the stream is named as such; a finished job answers done, never 204', async () => {
  const { job, epoch, report } = await evictedJob()
  const gone = await fetch(`${h.url}/jobs/${job.id}/poll?after=5&epoch=${epoch}&timeout=1`)
  assert.equal(gone.status, 410)
  const goneBody = await gone.json()
  assert.equal(goneBody.job.progress, 0.5)
  assert.match(goneBody.error.message, /no longer kept/)
  const ahead = await fetch(`${h.url}/jobs/${job.id}/poll?after=99&epoch=${epoch}&timeout=1`)
  assert.equal(ahead.status, 410)
  const aheadBody = await ahead.json()
  assert.match(aheadBody.error.message, /offset 99 is beyond the latest \(20\)/)
  assert.doesNotMatch(aheadBody.error.message, /older/, 'a cursor ahead of the stream is not "older"')
  assert.equal(aheadBody.after, 20)
  await report({ state: 'succeeded', result: 4 })
  // At the final event, and after it: answered at once with the outcome, so a client stops.
  for (const after of [20, 21]) {
    const res = await fetch(`${h.url}/jobs/${job.id}/poll?after=${after}&epoch=${epoch}&timeout=5`)
    assert.equal(res.status, 200, `after=${after}`)
    const body = await res.json()
    assert.equal(body.done, true)
    assert.equal(body.state, 'succeeded')
    assert.equal(after === 20 ? body.events[0].result : body.snapshot.result, 4)
  }
})
