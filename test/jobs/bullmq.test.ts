// Issue #11, workers anywhere: Herald nodes enqueue on BullMQ (real Redis), `herald worker`
// child processes run the handlers, and any node's clients follow, retry and cancel the jobs.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { signedIdentifier } from '../../src/protocol/identifier.js'
import { WireClient, type TestHerald } from '../support/herald.js'
import { metric, postJson, until } from '../support/util.js'
import { cleanRedis, eventsOf, FINAL, node, runPrefix, WorkerProcess } from './workers.js'

const prefix = runPrefix('bq')
let a: TestHerald, b: TestHerald, c: TestHerald
const workers: WorkerProcess[] = []
const clients: WireClient[] = []

before(async () => {
  ;[a, b, c] = await Promise.all([node(prefix), node(prefix), node(prefix)])
  workers.push(...await Promise.all([WorkerProcess.start(prefix), WorkerProcess.start(prefix)]))
})
after(async () => {
  for (const cl of clients) cl.close()
  await Promise.all(workers.map((w) => w.stop()))
  await Promise.all([a, b, c].map((h) => h?.close()))
  await cleanRedis(prefix)
})

async function start(h: TestHerald, type: string, input?: unknown) {
  const res = await postJson(`${h.url}/jobs`, { type, input })
  assert.equal(res.status, 201, JSON.stringify(res.body))
  return res.body
}

/** A WebSocket client on `h` following the job from its start (history since its creation). */
async function follow(h: TestHerald, job: any) {
  const cl = await WireClient.connect(h.wsUrl)
  clients.push(cl)
  await cl.waitForType('welcome')
  const identifier = signedIdentifier(job.signedStream)
  cl.send({ command: 'subscribe', identifier, history: { since: Math.floor(Date.parse(job.createdAt) / 1000) - 1, streams: {} } })
  await cl.waitForType('confirm_subscription')
  return { cl, events: () => cl.data(identifier).map((m) => m.message) }
}

const finals = (events: any[]) => events.filter((e) => FINAL.has(e.type))

describe('BullMQ workers', () => {
  test('a job started on node A runs in a worker process; a client on node B follows it to succeeded', async () => {
    const job = await start(a, 'steps', { steps: 5, delayMs: 20 })
    assert.equal(job.runner, 'queue')
    assert.equal(job.state, 'queued')
    const { cl, events } = await follow(b, job)
    await cl.waitFor((m) => m.message?.type === 'succeeded', 20_000)
    const list = events().filter((e) => e.type !== 'snapshot')
    assert.deepEqual(list.map((e) => e.progress), [0, 0.2, 0.4, 0.6, 0.8, 1, 1])
    assert.equal(finals(list).length, 1)
    assert.equal(list.at(-1).type, 'succeeded')
    const pid = list.at(-1).result.pid
    assert.ok(workers.some((w) => w.pid === pid), 'a worker process ran it')
    assert.notEqual(pid, process.pid)
    // The record is the same on every node.
    for (const h of [a, b, c]) {
      const s = await (await fetch(`${h.url}/jobs/${job.id}`)).json()
      assert.equal(s.state, 'succeeded')
      assert.equal(s.attempt, 1)
    }
  })

  test('a failed attempt is retried with backoff: a progress event with the error, a retry event, then succeeded', async () => {
    const job = await start(c, 'flaky')
    const { cl, events } = await follow(a, job)
    await cl.waitFor((m) => m.message?.type === 'succeeded', 20_000)
    const list = events().filter((e) => e.type !== 'snapshot')
    assert.ok(list.some((e) => e.type === 'progress' && e.state === 'queued' && /first attempt fails/.test(e.error?.message)), JSON.stringify(list))
    const retry = list.find((e) => e.type === 'retry')
    assert.equal(retry?.attempt, 2)
    assert.equal(finals(list).length, 1)
    assert.deepEqual(list.at(-1).result, { attempt: 2 })
  })

  test('cancel from node C stops the handler in its worker; a client on B sees one cancelled; it is not retried', async () => {
    const job = await start(a, 'waits')
    const { cl, events } = await follow(b, job)
    const runner = await until(() => workers.find((w) => w.has(`running ${job.id} attempt 1 pid ${w.pid}`)), 'a worker runs it', 20_000)
    const res = await postJson(`${c.url}/jobs/${job.id}/cancel`, {})
    assert.equal(res.status, 200)
    assert.equal(res.body.state, 'cancelled')
    await until(() => runner.has(`aborted ${job.id}`), "the handler's AbortSignal fired", 10_000)
    await cl.waitFor((m) => m.message?.type === 'cancelled')
    assert.equal((await postJson(`${a.url}/jobs/${job.id}/cancel`, {})).status, 409)
    assert.equal(finals(await eventsOf(a, job.stream)).length, 1)
    assert.ok(!events().some((e) => e.type === 'retry'))
  })

  test('a queued job no worker has taken is removed from the queue when cancelled', async () => {
    await Promise.all(workers.map((w) => w.stop()))
    workers.length = 0
    const job = await start(b, 'steps', { steps: 1 })
    const res = await postJson(`${a.url}/jobs/${job.id}/cancel`, {})
    assert.equal(res.status, 200)
    assert.equal(res.body.state, 'cancelled')
    const w = await WorkerProcess.start(prefix)
    workers.push(w)
    const other = await start(b, 'steps', { steps: 1 })
    await until(async () => (await (await fetch(`${a.url}/jobs/${other.id}`)).json()).state === 'succeeded', 'a later job runs', 20_000)
    assert.ok(!w.lines.some((l) => l.includes(job.id)), 'the cancelled job never ran')
    assert.deepEqual((await eventsOf(a, job.stream)).map((e) => e.type), ['cancelled'])
  })

  test('a worker killed mid-job (kill -9): stall detection retries it on another worker; subscribers see the retry and one final event', async () => {
    workers.push(await WorkerProcess.start(prefix))
    const job = await start(a, 'steps', { steps: 30, delayMs: 100 })
    const { cl, events } = await follow(b, job)
    const victim = await until(() => workers.find((w) => w.has(`running ${job.id} attempt 1 pid ${w.pid}`)), 'a worker runs it', 20_000)
    await until(() => events().some((e) => e.type === 'progress' && e.progress >= 0.1), 'some progress', 20_000)
    await victim.kill9()
    await cl.waitFor((m) => m.message?.type === 'succeeded', 60_000)
    const list = events().filter((e) => e.type !== 'snapshot')
    const retry = list.find((e) => e.type === 'retry')
    assert.ok(retry, 'a retry event')
    assert.ok(retry.attempt >= 2)
    assert.equal(finals(list).length, 1)
    assert.equal(list.at(-1).type, 'succeeded')
    assert.notEqual(list.at(-1).result.pid, victim.pid)
    assert.equal(list.at(-1).attempt, retry.attempt)
    assert.equal(finals(await eventsOf(c, job.stream)).length, 1)
    workers.splice(workers.indexOf(victim), 1)
  })

  test('metrics: jobs by state from the queue, running jobs, and workers', async () => {
    await until(async () => (await metric(a.url, 'herald_job_workers')) === workers.length, 'the worker count', 10_000)
    assert.ok((await metric(a.url, 'herald_jobs', { state: 'succeeded' })) >= 2)
    assert.equal(await metric(a.url, 'herald_jobs_running'), 0)
  })
})

describe('1,000 short jobs through 4 workers', () => {
  const prefix2 = runPrefix('k')
  let n: TestHerald
  const pool: WorkerProcess[] = []
  after(async () => {
    await Promise.all(pool.map((w) => w.stop()))
    await n?.close()
    await cleanRedis(prefix2)
  })

  test('every job ends with exactly one final event, last on its stream', async () => {
    n = await node(prefix2)
    pool.push(...await Promise.all([1, 2, 3, 4].map(() => WorkerProcess.start(prefix2, { jobsConcurrency: 8 }))))
    const ids: string[] = []
    for (let i = 0; i < 1000; i += 50) {
      const batch = await Promise.all(Array.from({ length: 50 }, () => postJson(`${n.url}/jobs`, { type: 'steps', input: { steps: 2 } })))
      for (const r of batch) {
        assert.equal(r.status, 201)
        ids.push(r.body.id)
      }
    }
    await until(async () => {
      const counts = await n.herald.jobs.queue!.counts()
      return counts.succeeded === 1000
    }, 'all 1,000 to succeed', 120_000, 200)
    const ran = new Set<number>()
    for (const id of ids) {
      const events = await eventsOf(n, `job:${id}`)
      assert.equal(finals(events).length, 1, `job ${id}: ${JSON.stringify(events.map((e) => e.type))}`)
      assert.equal(events.at(-1).type, 'succeeded')
      ran.add(events.at(-1).result.pid)
    }
    assert.ok(ran.size > 1, 'more than one worker took part')
  })
})
