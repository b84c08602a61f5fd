// Issue #10, "restart the broker mid-stream": a Redis the test started itself goes away with its
// data and comes back empty while a job runs. The job's subscriber is told its history is gone
// (reject_history), gets the job's snapshot, and then follows the job to its outcome in the new
// epoch: it learns where the job stands without reconnecting.
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { startHerald, WireClient, type TestHerald } from '../support/herald.js'
import { SteppedJobs } from '../support/stepped-job.js'
import { until } from '../support/util.js'
import { ownRedis, type OwnServer } from '../broker/servers.js'

let redis: OwnServer | undefined
let h: TestHerald | undefined
after(async () => {
  await h?.close()
  await redis?.close()
})

const identifierOf = (signedStream: string) => JSON.stringify({ channel: '$pubsub', signed_stream_name: signedStream })

test('Redis restarts empty mid-job: the subscriber gets reject_history and the snapshot, then the rest of the job, without reconnecting', async () => {
  redis = await ownRedis()
  h = await startHerald({ broker: 'redis', redisUrl: redis.url, brokerPrefix: `restart${process.pid}` })
  const jobs = new SteppedJobs(h.herald)
  const job = await jobs.start(h.url)
  await job.started()

  const c = await WireClient.connect(h.wsUrl)
  await c.waitForType('welcome')
  const identifier = identifierOf(job.signedStream)
  c.send({ command: 'subscribe', identifier })
  await c.waitForType('confirm_subscription')
  await job.progress(0.25, 'before')
  const before = await c.waitFor((m) => m.message?.type === 'progress' && m.message.message === 'before')
  const oldEpoch = before.epoch

  await redis.stop()
  await until(() => h!.herald.hub.broker.state === 'down', 'the node sees Redis down', 10_000)
  await redis.start({ wipe: true })
  await until(() => h!.herald.hub.broker.state === 'up', 'the node sees Redis up again', 20_000)

  const seen = c.messages.length
  await job.progress(0.5, 'after')
  const since = (test: (m: any) => boolean) => c.waitFor((m) => c.messages.indexOf(m) >= seen && test(m), 10_000)
  await since((m) => m.type === 'reject_history' && m.identifier === identifier)
  // The snapshot of a job reported after the restart: where the job stands now (0.5), or its
  // state at the broker's return if the node noticed the new epoch before the report (0.25).
  const snapshot = await since((m) => m.message?.type === 'snapshot')
  assert.equal(snapshot.message.job.state, 'running')
  const after = await since((m) => m.message?.type === 'progress' && m.message.message === 'after')
  assert.ok([0.25, 0.5].includes(snapshot.message.job.progress))
  assert.ok(c.messages.indexOf(snapshot) < c.messages.indexOf(after) || snapshot.message.job.progress === 0.5, 'nothing older arrives after the newer state')
  await job.succeed({ answer: 42 })
  const outcome = await c.waitFor((m) => m.message?.type === 'succeeded', 10_000)
  assert.notEqual(outcome.epoch, oldEpoch, 'the stream goes on in a new epoch')
  assert.deepEqual(outcome.message.result, { answer: 42 })
  assert.equal(c.closeCode, undefined, 'the client stayed connected')
  const res = await fetch(`${h.url}/jobs/${job.id}`)
  assert.equal(res.status, 200, 'the job record is written again after the restart')
  assert.equal((await res.json()).state, 'succeeded')
  c.close()
})
