// Issue #11, jobs survive a restart and are the same on every node: job records in the
// broker's store (real Redis), cancel across nodes, and BullMQ jobs Herald did not start.
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { Queue, Worker } from 'bullmq'
import { signedIdentifier } from '../../src/protocol/identifier.js'
import { startHerald, WireClient, type TestHerald } from '../support/herald.js'
import { postJson, until } from '../support/util.js'
import { cleanRedis, eventsOf, FINAL, redisUrl, runPrefix, shared } from './workers.js'

const prefix = runPrefix('rec')
const open: { close(): Promise<void> | void }[] = []
after(async () => {
  for (const o of open.reverse()) await o.close()
  await cleanRedis(prefix)
})

/** A node running in-process jobs on the shared Redis, with a `waits` type whose aborts it records. */
async function processNode(): Promise<TestHerald & { aborted: Set<string> }> {
  const h = await startHerald({ ...shared(prefix), jobs: 'process' })
  const aborted = new Set<string>()
  h.herald.defineJob('waits', {
    async handler(_input: unknown, { id, signal, progress }) {
      progress(0.3, 'waiting')
      await new Promise((_r, reject) => signal.addEventListener('abort', () => { aborted.add(id); reject(signal.reason) }, { once: true }))
    },
  })
  open.push(h)
  return Object.assign(h, { aborted })
}

const get = async (h: TestHerald, id: string) => (await fetch(`${h.url}/jobs/${encodeURIComponent(id)}`)).json()

test('a job outlives the node that started it: GET, the late-joiner snapshot, reports, cancel and the final event on a new node', async () => {
  const first = await processNode()
  const job = (await postJson(`${first.url}/jobs`, { type: 'external' })).body
  await postJson(`${first.url}/jobs/${job.id}/progress`, { progress: 0.4, message: 'half-way there' })
  await first.close()
  const second = await processNode()
  const s = await get(second, job.id)
  assert.equal(s.state, 'running')
  assert.equal(s.progress, 0.4)
  assert.equal(s.message, 'half-way there')
  const cl = await WireClient.connect(second.wsUrl)
  open.push(cl)
  await cl.waitForType('welcome')
  const identifier = signedIdentifier(s.signedStream)
  cl.send({ command: 'subscribe', identifier })
  const snap = await cl.waitFor((m) => m.message?.type === 'snapshot')
  assert.equal(snap.message.job.progress, 0.4)
  await postJson(`${second.url}/jobs/${job.id}/progress`, { progress: 0.6 })
  const cancelled = await postJson(`${second.url}/jobs/${job.id}/cancel`, {})
  assert.equal(cancelled.status, 200)
  await cl.waitFor((m) => m.message?.type === 'cancelled')
  assert.deepEqual((await eventsOf(second, job.stream)).map((e) => e.type), ['progress', 'progress', 'cancelled'])
})

test('a job running in-process at shutdown is recorded cancelled, readable from the node that comes back', async () => {
  const first = await processNode()
  const job = (await postJson(`${first.url}/jobs`, { type: 'waits' })).body
  await until(async () => (await get(first, job.id)).progress === 0.3, 'its handler runs')
  await first.close()
  assert.ok(first.aborted.has(job.id), 'its handler was aborted')
  const second = await processNode()
  const s = await get(second, job.id)
  assert.equal(s.state, 'cancelled')
  assert.equal(s.message, 'server shutting down')
  assert.equal((await eventsOf(second, job.stream)).at(-1).type, 'cancelled')
})

test('cancel on node B reaches the in-process handler on node A (Broker.notify); one cancelled event', async () => {
  const a = await processNode()
  const b = await processNode()
  const job = (await postJson(`${a.url}/jobs`, { type: 'waits' })).body
  await until(async () => (await get(b, job.id)).progress === 0.3, 'B reads the record of the job running on A')
  assert.equal(a.herald.jobs.runningCount, 1)
  const res = await postJson(`${b.url}/jobs/${job.id}/cancel`, {})
  assert.equal(res.status, 200)
  assert.equal(res.body.state, 'cancelled')
  assert.ok(a.aborted.has(job.id), "A's handler saw its signal abort")
  await until(async () => (await eventsOf(b, job.stream)).some((e) => e.type === 'cancelled'), 'the cancelled event')
  assert.equal((await eventsOf(b, job.stream)).filter((e) => FINAL.has(e.type)).length, 1)
  assert.equal((await postJson(`${a.url}/jobs/${job.id}/cancel`, {})).status, 409)
})

test("a BullMQ job Herald did not start is followed: job.updateProgress, completion, on stream job:<queue>.<id>", async () => {
  const queueName = 'foreign'
  const h = await startHerald({ ...shared(prefix), jobs: 'process', jobsFollow: queueName })
  open.push(h)
  const connection = { url: redisUrl, maxRetriesPerRequest: null }
  const queue = new Queue(queueName, { connection, prefix: `${prefix}b` })
  open.push(queue)
  let release!: () => void
  const gate = new Promise<void>((r) => { release = r })
  const worker = new Worker(queueName, async (job) => {
    await job.updateProgress(40)
    await job.updateProgress({ progress: 0.7, message: 'almost' })
    await gate
    return { done: job.data.n }
  }, { connection, prefix: `${prefix}b` })
  open.push(worker)
  const added = await queue.add('resize', { n: 7 })
  const id = `${queueName}.${added.id}`
  const s = await until(async () => {
    const res = await fetch(`${h.url}/jobs/${id}`)
    return res.status === 200 && (await res.json()).progress === 0.7 ? res : undefined
  }, 'the followed job to show its progress', 15_000)
  assert.ok(s)
  const info = await get(h, id)
  assert.equal(info.runner, 'follow')
  assert.equal(info.type, 'resize')
  assert.equal(info.message, 'almost')
  release()
  await until(async () => (await get(h, id)).state === 'succeeded', 'succeeded', 15_000)
  const events = await eventsOf(h, `job:${id}`)
  assert.deepEqual(events.map((e) => [e.type, e.progress]), [['progress', 0], ['progress', 0.4], ['progress', 0.7], ['succeeded', 1]])
  assert.deepEqual(events.at(-1).result, { done: 7 })
})
