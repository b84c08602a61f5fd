import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { signedIdentifier } from '../../src/protocol/identifier.js'
import { startHerald, WireClient, type TestHerald } from '../support/herald.js'
import { postJson, until } from '../support/util.js'

let h: TestHerald
/** Gates the `gated` job type: each started job waits for its release. */
const gates = new Map<string, () => void>()
const seenSignals = new Map<string, AbortSignal>()

before(async () => {
  h = await startHerald()
  h.herald.defineJob('gated', {
    async handler(_input: unknown, { id, progress }) {
      progress(0.5, 'half way', { phase: 1 })
      await new Promise<void>((resolve) => gates.set(id, resolve))
      return { done: true }
    },
  })
  h.herald.defineJob('waits-for-cancel', {
    async handler(_input: unknown, { id, signal, progress }) {
      seenSignals.set(id, signal)
      progress(0.1, 'started')
      await new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }))
    },
  })
})
after(() => h.close())

const clients: WireClient[] = []
after(() => { for (const c of clients) c.close() })

async function startJob(type: string, input?: unknown) {
  const res = await postJson(`${h.url}/jobs`, input === undefined ? { type } : { type, input })
  assert.equal(res.status, 201, JSON.stringify(res.body))
  return res.body
}

/** A client subscribed to the job's signed stream; `since` (unix s) asks for the stream's history too. */
async function follow(signedStream: string, since?: number) {
  const c = await WireClient.connect(h.wsUrl)
  clients.push(c)
  await c.waitForType('welcome')
  const identifier = signedIdentifier(signedStream)
  c.send(since === undefined ? { command: 'subscribe', identifier } : { command: 'subscribe', identifier, history: { since, streams: {} } })
  await c.waitForType('confirm_subscription')
  const events = () => c.data(identifier).map((m) => m.message)
  return { c, identifier, events }
}
const nowS = () => Math.floor(Date.now() / 1000)
/** The progress a client would show after each event; it must never move backwards. */
function assertNeverBackwards(events: any[]): void {
  const shown = events.map((e) => (e.type === 'snapshot' ? e.job.progress : e.progress))
  for (let i = 1; i < shown.length; i++) assert.ok(shown[i] >= shown[i - 1], `progress went back: ${JSON.stringify(shown)}`)
}
const eventOf = (type: string) => (m: any) => m.message?.type === type

describe('jobs', () => {
  test('GET /jobs lists the job types', async () => {
    const res = await fetch(`${h.url}/jobs`)
    assert.equal(res.status, 200)
    const { types } = await res.json()
    assert.deepEqual(types, ['demo', 'external', 'gated', 'waits-for-cancel'], 'the built-in types and the two defined here, sorted')
  })

  test('a demo job is followed to succeeded over WebSocket', async () => {
    const since = nowS() - 1
    const job = await startJob('demo', { steps: 4, delayMs: 20 })
    assert.match(job.id, /^[\w-]+$/)
    assert.equal(job.stream, `job:${job.id}`)
    assert.equal(job.type, 'demo')
    assert.match(job.signedStream, /^[A-Za-z0-9+/=]+--[0-9a-f]{64}$/)
    // With history since the start, nothing is missed however fast the job ran.
    const { c, events } = await follow(job.signedStream, since)
    await c.waitFor(eventOf('succeeded'))
    const list = events()
    // With history, the backlog comes first and the snapshot (current state) after it, so a
    // progress bar never moves backwards; the events themselves are all there, once, in order.
    assert.equal(list.filter((e) => e.type === 'snapshot').length, 1)
    assertNeverBackwards(list)
    const live = list.filter((e) => e.type !== 'snapshot')
    assert.deepEqual(live.filter((e) => e.type !== 'progress').map((e) => e.type), ['succeeded'])
    assert.equal(live.at(-1).type, 'succeeded')
    assert.deepEqual(live.at(-1).result.steps, 4)
    const progress = live.filter((e) => e.type === 'progress').map((e) => e.progress)
    assert.deepEqual(progress, [0, 0.25, 0.5, 0.75, 1])
    for (const e of live) {
      assert.equal(e.job, job.id)
      assert.equal(typeof e.at, 'string')
      assert.ok(!Number.isNaN(Date.parse(e.at)))
    }
    assert.deepEqual(live.at(-2), { type: 'progress', job: job.id, state: 'running', progress: 1, message: 'step 4 of 4', data: { step: 4 }, attempt: 1, at: live.at(-2).at })
  })

  test('a late subscriber first gets a snapshot, then live events', async () => {
    const job = await startJob('gated')
    await until(() => gates.has(job.id), 'job running')
    const { c, events } = await follow(job.signedStream)
    const [snapshot] = await Promise.all([c.waitFor(eventOf('snapshot'))])
    assert.equal(snapshot.message.job.id, job.id)
    assert.equal(snapshot.message.job.state, 'running')
    assert.equal(snapshot.message.job.progress, 0.5)
    assert.equal(snapshot.message.job.message, 'half way')
    gates.get(job.id)!()
    await c.waitFor(eventOf('succeeded'))
    assert.deepEqual(events().map((e) => e.type), ['snapshot', 'succeeded'])
    assert.deepEqual(events()[1].result, { done: true })
    assert.equal(events()[1].progress, 1)
  })

  test('a cancelled job ends with exactly one cancelled event and its handler saw the AbortSignal', async () => {
    const since = nowS() - 1
    const job = await startJob('waits-for-cancel')
    await until(() => seenSignals.has(job.id), 'handler running')
    const signal = seenSignals.get(job.id)!
    assert.equal(signal.aborted, false)
    const { c } = await follow(job.signedStream)
    const res = await postJson(`${h.url}/jobs/${job.id}/cancel`, '')
    assert.equal(res.status, 200)
    assert.equal(res.body.state, 'cancelled')
    assert.ok(res.body.finishedAt)
    assert.equal(signal.aborted, true)
    await c.waitFor(eventOf('cancelled'))
    const again = await postJson(`${h.url}/jobs/${job.id}/cancel`, '')
    assert.equal(again.status, 409)
    assert.equal(again.body.error.code, 'HERALD_ERR_JOB_FINISHED')
    // The whole stream, read back from history: one cancelled, last, nothing after it.
    const { c: reader, events } = await follow(job.signedStream, since)
    await reader.waitForType('confirm_history')
    // A backlog that reaches the final event says everything: no snapshot after it.
    assert.deepEqual(events().map((e) => e.type), ['progress', 'progress', 'cancelled'])
    assert.equal((await (await fetch(`${h.url}/jobs/${job.id}`)).json()).state, 'cancelled')
  })

  test('a failing job ends with failed and its error', async () => {
    const since = nowS() - 1
    const job = await startJob('demo', { steps: 3, delayMs: 1, failAt: 2 })
    const { c, events } = await follow(job.signedStream, since)
    const failed = await c.waitFor(eventOf('failed'))
    assert.deepEqual(failed.message.error, { message: 'failed at step 2 as asked' })
    assert.equal(events().filter((e) => ['succeeded', 'failed', 'cancelled'].includes(e.type)).length, 1)
    const snap = await (await fetch(`${h.url}/jobs/${job.id}`)).json()
    assert.equal(snap.state, 'failed')
    assert.deepEqual(snap.error, { message: 'failed at step 2 as asked' })
  })

  test('GET /jobs/:id returns the snapshot fields', async () => {
    const job = await startJob('gated')
    await until(() => gates.has(job.id), 'job running')
    const res = await fetch(`${h.url}/jobs/${job.id}`)
    assert.equal(res.status, 200)
    const s = await res.json()
    assert.deepEqual(Object.keys(s).sort(), [
      'attempt', 'createdAt', 'data', 'finishedAt', 'id', 'message', 'progress', 'runner', 'signedStream', 'startedAt', 'state', 'stream', 'type', 'updatedAt',
    ])
    assert.equal(s.attempt, 1)
    assert.equal(s.runner, 'process')
    assert.equal(s.id, job.id)
    assert.equal(s.type, 'gated')
    assert.equal(s.stream, `job:${job.id}`)
    assert.equal(s.signedStream, job.signedStream)
    assert.equal(s.state, 'running')
    assert.equal(s.progress, 0.5)
    assert.equal(s.message, 'half way')
    assert.deepEqual(s.data, { phase: 1 })
    assert.equal(s.finishedAt, null)
    for (const k of ['createdAt', 'startedAt', 'updatedAt']) assert.ok(!Number.isNaN(Date.parse(s[k])), k)
    gates.get(job.id)!()
    const done = await until(async () => {
      const j = await (await fetch(`${h.url}/jobs/${job.id}`)).json()
      return j.state === 'succeeded' && j
    }, 'succeeded')
    assert.deepEqual(done.result, { done: true })
    assert.equal(done.progress, 1)
    assert.ok(Date.parse(done.finishedAt) >= Date.parse(done.startedAt))
  })

  test('the final event stays retrievable via history after the job ended', async () => {
    const since = nowS() - 1
    const job = await startJob('demo', { steps: 2, delayMs: 1 })
    await until(async () => (await (await fetch(`${h.url}/jobs/${job.id}`)).json()).state === 'succeeded', 'job done')
    // By time:
    const { c, events } = await follow(job.signedStream, since)
    await c.waitForType('confirm_history')
    assert.deepEqual(events().map((e) => e.type), ['progress', 'progress', 'progress', 'succeeded'])
    // A late subscriber that asks for no history gets the final state as its snapshot.
    const { c: late, events: lateEvents } = await follow(job.signedStream)
    await late.waitFor(eventOf('snapshot'))
    assert.equal(lateEvents()[0].job.state, 'succeeded')
    // By position, from the stream's start:
    const epoch = c.data().find((m) => m.epoch).epoch
    const d = await WireClient.connect(h.wsUrl)
    clients.push(d)
    await d.waitForType('welcome')
    const identifier = signedIdentifier(job.signedStream)
    d.send({ command: 'subscribe', identifier, history: { streams: { [job.stream]: { epoch, offset: 0 } } } })
    await d.waitForType('confirm_history')
    const positioned = d.data(identifier).filter((m) => m.offset !== undefined)
    assert.deepEqual(positioned.map((m) => m.offset), positioned.map((_, i) => i + 1))
    assert.equal(positioned.at(-1).message.type, 'succeeded')
  })
})

describe('external jobs', () => {
  let k: TestHerald
  before(async () => { k = await startHerald({ broadcastKey: 'worker-key' }) })
  after(() => k.close())
  const auth = { authorization: 'Bearer worker-key' }

  test('are driven by POST /jobs/:id/progress with the broadcast key', async () => {
    const res = await postJson(`${k.url}/jobs`, { type: 'external' })
    assert.equal(res.status, 201)
    const job = res.body
    assert.equal(job.state, 'queued')
    const c = await WireClient.connect(k.wsUrl)
    clients.push(c)
    await c.waitForType('welcome')
    const identifier = signedIdentifier(job.signedStream)
    c.send({ command: 'subscribe', identifier })
    await c.waitFor(eventOf('snapshot'))

    const progress = `${k.url}/jobs/${job.id}/progress`
    assert.equal((await postJson(progress, { progress: 0.4 })).status, 401, 'no key')
    const wrong = await postJson(progress, { progress: 0.4 }, { authorization: 'Bearer nope' })
    assert.equal(wrong.status, 401)
    assert.equal(wrong.body.error.code, 'HERALD_ERR_UNAUTHORIZED')

    const p = await postJson(progress, { progress: 0.4, message: 'downloading', data: { bytes: 10 } }, auth)
    assert.equal(p.status, 200)
    assert.equal(p.body.state, 'running')
    assert.equal(p.body.progress, 0.4)
    const bad = await postJson(progress, { progress: 2 }, auth)
    assert.equal(bad.status, 400)
    assert.match(bad.body.error.message, /body\.progress/)
    const done = await postJson(progress, { state: 'succeeded', result: { url: 'x' } }, auth)
    assert.equal(done.status, 200)
    assert.equal(done.body.state, 'succeeded')
    const late = await postJson(progress, { progress: 0.9 }, auth)
    assert.equal(late.status, 409)

    await c.waitFor(eventOf('succeeded'))
    const events = c.data(identifier).map((m) => m.message)
    assert.deepEqual(events.map((e) => e.type), ['snapshot', 'progress', 'succeeded'])
    assert.deepEqual(events[1], { type: 'progress', job: job.id, state: 'running', progress: 0.4, message: 'downloading', data: { bytes: 10 }, attempt: 1, at: events[1].at })
    assert.deepEqual(events[2].result, { url: 'x' })
    assert.equal((await postJson(`${k.url}/jobs/nope/progress`, { progress: 0.1 }, auth)).status, 404)
  })

  test('a worker can report failure', async () => {
    const { body: job } = await postJson(`${k.url}/jobs`, { type: 'external' })
    const r = await postJson(`${k.url}/jobs/${job.id}/progress`, { state: 'failed', error: 'disk full' }, auth)
    assert.equal(r.status, 200)
    assert.equal(r.body.state, 'failed')
    assert.deepEqual(r.body.error, { message: 'disk full' })
  })
})
