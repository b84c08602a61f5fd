import assert from 'node:assert/strict'
import { test } from 'node:test'
import { signedIdentifier } from '../../src/protocol/identifier.js'
import { startHerald, WireClient } from '../support/herald.js'
import { metric, postJson, until } from '../support/util.js'

// Issue #13, "Jobs can be created without limit": live jobs per node (--max-running-jobs), the
// demo job's whole run (--demo-job-max-duration), and an external job's silence (--jobs-report-timeout).

test('--max-running-jobs: over it POST /jobs answers 503 with a reason and Retry-After; an ended job makes room', async () => {
  const h = await startHerald({ maxRunningJobs: 3 })
  try {
    const demo = await postJson(`${h.url}/jobs`, { type: 'demo', input: { steps: 1, delayMs: 60_000 } })
    assert.equal(demo.status, 201)
    const ext = [await postJson(`${h.url}/jobs`, { type: 'external' }), await postJson(`${h.url}/jobs`, { type: 'external' })]
    assert.deepEqual(ext.map((r) => r.status), [201, 201])
    const over = await postJson(`${h.url}/jobs`, { type: 'external' })
    assert.equal(over.status, 503)
    assert.equal(over.body.error.code, 'HERALD_ERR_TOO_MANY_JOBS')
    assert.match(over.body.error.message, /3 jobs are live on this node \(--max-running-jobs 3\)/)
    assert.equal(over.headers.get('retry-after'), '5')
    assert.equal((await postJson(`${h.url}/jobs`, { type: 'demo', input: { steps: 1, delayMs: 1 } })).status, 503, 'every kind counts')
    assert.equal(await metric(h.url, 'herald_errors_total', { code: 'HERALD_ERR_TOO_MANY_JOBS' }), 2)
    assert.equal(await metric(h.url, 'herald_jobs', { state: 'queued' }) + await metric(h.url, 'herald_jobs', { state: 'running' }), 3, 'the live-jobs gauge')
    // One ends (a worker's result, a cancel): room for one more, and only one.
    assert.equal((await postJson(`${h.url}/jobs/${ext[0].body.id}/progress`, { state: 'succeeded' })).status, 200)
    assert.equal((await postJson(`${h.url}/jobs/${demo.body.id}/cancel`, {})).status, 200)
    await until(() => h.herald.jobs.liveCount === 1, 'the cancelled demo job to end')
    assert.deepEqual([(await postJson(`${h.url}/jobs`, { type: 'external' })).status, (await postJson(`${h.url}/jobs`, { type: 'external' })).status], [201, 201])
    assert.equal((await postJson(`${h.url}/jobs`, { type: 'external' })).status, 503)
  } finally {
    await h.close()
  }
})

test('concurrent starts cannot overshoot --max-running-jobs', async () => {
  const h = await startHerald({ maxRunningJobs: 5 })
  try {
    const answers = await Promise.all(Array.from({ length: 40 }, () => postJson(`${h.url}/jobs`, { type: 'external' })))
    assert.equal(answers.filter((a) => a.status === 201).length, 5)
    assert.equal(answers.filter((a) => a.status === 503).length, 35)
  } finally {
    await h.close()
  }
})

test('--demo-job-max-duration: a demo job of days is refused with 400 naming the limit', async () => {
  const h = await startHerald({ demoJobMaxDuration: 1 })
  try {
    const week = await postJson(`${h.url}/jobs`, { type: 'demo', input: { steps: 10_000, delayMs: 60_000 } })
    assert.equal(week.status, 400)
    assert.match(week.body.error.message, /steps × delayMs must not exceed 1000 ms \(--demo-job-max-duration\)/)
    assert.equal((await postJson(`${h.url}/jobs`, { type: 'demo', input: { steps: 11, delayMs: 100 } })).status, 400)
    assert.equal((await postJson(`${h.url}/jobs`, { type: 'demo', input: { steps: 10, delayMs: 100 } })).status, 201)
  } finally {
    await h.close()
  }
  const d = await startHerald()
  try {
    const week = await postJson(`${d.url}/jobs`, { type: 'demo', input: { steps: 10_000, delayMs: 60_000 } })
    assert.equal(week.status, 400, 'the default limit (600 s) refuses the 7-day job')
  } finally {
    await d.close()
  }
})

test('--jobs-report-timeout: a silent external job fails with an error event its subscribers see; one that reports lives on', async () => {
  const h = await startHerald({ jobsReportTimeout: 0.4 })
  try {
    const { body: quiet } = await postJson(`${h.url}/jobs`, { type: 'external' })
    const { body: busy } = await postJson(`${h.url}/jobs`, { type: 'external' })
    const c = await WireClient.connect(h.wsUrl)
    await c.waitForType('welcome')
    const identifier = signedIdentifier(quiet.signedStream)
    c.send({ command: 'subscribe', identifier })
    await c.waitFor((m) => m.message?.type === 'snapshot')
    const started = Date.now()
    // The busy job reports every 150 ms, past twice the timeout.
    while (Date.now() - started < 1000) {
      assert.equal((await postJson(`${h.url}/jobs/${busy.id}/progress`, { progress: 0.1, message: 'working' })).status, 200)
      await new Promise((r) => setTimeout(r, 150))
    }
    const failed = await c.waitFor((m) => m.message?.type === 'failed', 5000)
    assert.match(failed.message.error.message, /no progress or result reported for 0.4 s \(--jobs-report-timeout\)/)
    const snap = await (await fetch(`${h.url}/jobs/${quiet.id}`)).json()
    assert.equal(snap.state, 'failed')
    assert.equal((await postJson(`${h.url}/jobs/${quiet.id}/progress`, { progress: 0.5 })).status, 409, 'a late report is refused')
    assert.equal((await (await fetch(`${h.url}/jobs/${busy.id}`)).json()).state, 'running')
    assert.equal(await metric(h.url, 'herald_errors_total', { code: 'HERALD_ERR_JOB_REPORT_TIMEOUT' }), 1)
    c.close()
  } finally {
    await h.close()
  }
})
