import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { signJwt } from '../../src/auth/jwt.js'
import { startHerald, type TestHerald } from '../support/herald.js'
import { metric, postJson, until } from '../support/util.js'
import { holdings, NO_HOLDINGS, startJob } from './http-clients.js'

let h: TestHerald
before(async () => { h = await startHerald({ historyLimit: 3, jobPollMaxTimeout: 1 }) })
after(() => h.close())

const finalTypes = new Set(['succeeded', 'failed', 'cancelled'])

async function poll(path: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(`${h.url}${path}`, init)
  const text = await res.text()
  return { status: res.status, body: text ? JSON.parse(text) : undefined }
}

const report = (id: string, body: unknown) => postJson(`${h.url}/jobs/${id}/progress`, body)

test('job poll: a demo job followed by cursor from the start to succeeded, every event once', async () => {
  const job = await startJob(h.url, { steps: 2, delayMs: 50 })
  const events: any[] = []
  let cursor = 'after=0'
  for (let i = 0; i < 50 && !finalTypes.has(events.at(-1)?.type); i++) {
    const r = await poll(`/jobs/${job.id}/poll?${cursor}&timeout=5`)
    if (r.status === 204) continue
    assert.equal(r.status, 200)
    assert.equal(r.body.job, job.id)
    events.push(...r.body.events)
    cursor = `after=${r.body.after}&epoch=${r.body.epoch}`
    assert.equal(r.body.after, events.length, 'the cursor counts every event once')
  }
  assert.deepEqual(events.map((e) => e.type), ['progress', 'progress', 'progress', 'succeeded'])
  assert.deepEqual(events.map((e) => e.progress), [0, 0.5, 1, 1])
})

test('job poll: 204 at the timeout (capped by --job-poll-max-timeout); resumes after a dropped poll with no loss', async () => {
  const job = await startJob(h.url, {}, 'external')
  await report(job.id, { progress: 0.1 })
  const first = await poll(`/jobs/${job.id}/poll?after=0`)
  assert.equal(first.status, 200)
  const cursor = `after=${first.body.after}&epoch=${first.body.epoch}`
  const empty = await poll(`/jobs/${job.id}/poll?${cursor}&timeout=0.2`)
  assert.equal(empty.status, 204)
  // A held poll whose client goes away; what is published meanwhile comes with the next poll.
  const abort = new AbortController()
  const dropped = fetch(`${h.url}/jobs/${job.id}/poll?${cursor}&timeout=30`, { signal: abort.signal }).catch(() => 'aborted')
  await until(() => h.herald.stats().jobPoll.heldPolls === 1, 'held')
  abort.abort()
  assert.equal(await dropped, 'aborted')
  await report(job.id, { progress: 0.2 })
  await report(job.id, { progress: 0.3 })
  const next = await poll(`/jobs/${job.id}/poll?${cursor}`)
  assert.equal(next.status, 200)
  assert.deepEqual(next.body.events.map((e: any) => e.progress), [0.2, 0.3])
  // A timeout over the maximum is capped, not refused: answered 204 within the cap.
  const capped = await poll(`/jobs/${job.id}/poll?after=${next.body.after}&epoch=${next.body.epoch}&timeout=100000`)
  assert.equal(capped.status, 204)
  await fetch(`${h.url}/jobs/${job.id}/cancel`, { method: 'POST' })
})

test('job poll: a cursor older than the kept history answers 410 with the snapshot and a cursor to carry on from', async () => {
  const job = await startJob(h.url, {}, 'external')
  for (const p of [0.1, 0.2, 0.3, 0.4, 0.5]) await report(job.id, { progress: p })
  const goneBefore = await metric(h.url, 'herald_errors_total', { code: 'HERALD_ERR_HISTORY_GONE' })
  const gone = await poll(`/jobs/${job.id}/poll?after=1`)
  assert.equal(gone.status, 410)
  assert.equal(gone.body.error.code, 'HERALD_ERR_HISTORY_GONE')
  assert.equal(gone.body.job.progress, 0.5)
  assert.equal(gone.body.after, 5)
  await report(job.id, { state: 'succeeded', result: 42 })
  const next = await poll(`/jobs/${job.id}/poll?after=${gone.body.after}&epoch=${gone.body.epoch}`)
  assert.equal(next.status, 200)
  assert.deepEqual(next.body.events.map((e: any) => [e.type, e.result]), [['succeeded', 42]])
  const wrongEpoch = await poll(`/jobs/${job.id}/poll?after=1&epoch=zzzz`)
  assert.equal(wrongEpoch.status, 410)
  assert.equal(await metric(h.url, 'herald_errors_total', { code: 'HERALD_ERR_HISTORY_GONE' }), goneBefore + 2, 'each 410 counted once')
})

test('job poll: 404 for an unknown job, 400 for a bad cursor or timeout, 401 without a token under --jwt-secret', async () => {
  assert.equal((await poll('/jobs/nope/poll')).status, 404)
  const job = await startJob(h.url, {}, 'external')
  const badAfter = await poll(`/jobs/${job.id}/poll?after=-1`)
  assert.equal(badAfter.status, 400)
  assert.equal(badAfter.body.error.code, 'HERALD_ERR_BAD_REQUEST')
  assert.equal((await poll(`/jobs/${job.id}/poll?after=1.5`)).status, 400)
  assert.equal((await poll(`/jobs/${job.id}/poll?timeout=soon`)).status, 400)
  await fetch(`${h.url}/jobs/${job.id}/cancel`, { method: 'POST' })
  const a = await startHerald({ jwtSecret: 'k' })
  try {
    const started = await (await fetch(`${a.url}/jobs`, { method: 'POST', body: '{"type":"external"}' })).json()
    assert.equal((await fetch(`${a.url}/jobs/${started.id}/poll?timeout=0`)).status, 401)
    assert.equal((await fetch(`${a.url}/jobs/${started.id}/poll?timeout=0&jid=${signJwt({}, 'k')}`)).status, 204)
  } finally {
    await a.close()
  }
})

test('job poll: polls dropped mid-hold free everything (subscriptions, deadlines)', async () => {
  const job = await startJob(h.url, {}, 'external')
  assert.deepEqual(holdings(h), NO_HOLDINGS)
  const aborts = [1, 2, 3].map(() => new AbortController())
  const held = aborts.map((c) => fetch(`${h.url}/jobs/${job.id}/poll?timeout=60`, { signal: c.signal }).catch(() => 'aborted'))
  await until(() => holdings(h).heldJobPolls === 3, 'three polls held')
  // A held poll is a subscriber and a deadline, not a connection.
  assert.deepEqual(holdings(h), { ...NO_HOLDINGS, subscriptions: 3, deadlines: 3, heldJobPolls: 3 })
  for (const c of aborts) c.abort()
  await Promise.all(held)
  await until(() => holdings(h).heldJobPolls === 0, 'freed')
  assert.deepEqual(holdings(h), NO_HOLDINGS)
  assert.equal(h.herald.stats().restorableSessions, 0)
  await fetch(`${h.url}/jobs/${job.id}/cancel`, { method: 'POST' })
})

test('job poll: a finished job whose events are no longer kept answers 410 with its final snapshot, not 204 forever', async () => {
  const a = await startHerald({ historyTtl: 0 })
  try {
    const job = await (await fetch(`${a.url}/jobs`, { method: 'POST', body: '{"type":"external"}' })).json()
    await postJson(`${a.url}/jobs/${job.id}/progress`, { state: 'succeeded', result: 1 })
    await until(() => a.herald.stats().broker.streams === 0, 'the broker forgot the stream')
    const res = await fetch(`${a.url}/jobs/${job.id}/poll?after=0&timeout=30`)
    assert.equal(res.status, 410)
    const body = await res.json()
    assert.equal(body.job.state, 'succeeded')
    assert.equal(body.job.result, 1)
    assert.deepEqual(holdings(a), NO_HOLDINGS)
  } finally {
    await a.close()
  }
})
