import assert from 'node:assert/strict'
import { test } from 'node:test'
import { publicIdentifier } from '../../src/protocol/identifier.js'
import { startHerald } from '../support/herald.js'
import { until } from '../support/util.js'
import { holdings, lpPost, startJob, StreamReader } from './http-clients.js'

test('shutdown: SSE and NDJSON (connections) get disconnect server_restart (reconnect), a held long poll answers with it, a held job poll answers 204', async () => {
  const h = await startHerald({ publicStreams: true })
  const sse = await StreamReader.sse(`${h.url}/events?stream=s`)
  const nd = await StreamReader.ndjson(`${h.url}/stream?stream=s`)
  const first = await lpPost(`${h.url}/lp`, { body: JSON.stringify({ command: 'subscribe', identifier: publicIdentifier('s') }) })
  const lp = lpPost(`${h.url}/lp`, { pollId: first.pollId })
  const job = await startJob(h.url, {}, 'external')
  const jobPoll = fetch(`${h.url}/jobs/${job.id}/poll?timeout=60`)
  await until(() => holdings(h).heldLongPolls === 1 && holdings(h).heldJobPolls === 1 && holdings(h).connections === 3, 'everything held')
  const closing = h.close()
  const [lpAnswer, jobAnswer] = await Promise.all([lp, jobPoll])
  await Promise.all([sse.waitEnded(), nd.waitEnded()])
  await closing
  const restart = { type: 'disconnect', reason: 'server_restart', reconnect: true }
  const last = sse.events.at(-1)!
  assert.equal(last.event, 'disconnect')
  assert.deepEqual(JSON.parse(last.data), restart)
  assert.equal(last.retry, undefined, 'browsers may reconnect')
  assert.deepEqual(nd.lines.at(-1), restart)
  assert.equal(lpAnswer.status, 200)
  assert.deepEqual(lpAnswer.lines.at(-1), restart)
  assert.equal(jobAnswer.status, 204)
})
