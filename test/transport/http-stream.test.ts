import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { after, before, test } from 'node:test'
import { promisify } from 'node:util'
import { signJwt } from '../../src/auth/jwt.js'
import { startHerald, type TestHerald } from '../support/herald.js'
import { broadcast, until } from '../support/util.js'
import { holdings, NO_HOLDINGS, startJob, StreamReader } from './http-clients.js'

let h: TestHerald
before(async () => { h = await startHerald({ publicStreams: true }) })
after(() => h.close())

/** Reads an NDJSON response with fetch() and a ReadableStream reader, as a browser would. */
async function readAll(url: string): Promise<{ status: number; type: string | null; lines: any[] }> {
  const res = await fetch(url)
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ''
  const lines: any[] = []
  for (;;) {
    const { value, done } = await reader.read()
    if (done) break
    buffer += value
    let nl
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl)
      buffer = buffer.slice(nl + 1)
      if (line) lines.push(JSON.parse(line))
    }
  }
  return { status: res.status, type: res.headers.get('content-type'), lines }
}

test('NDJSON: fetch() + ReadableStream follows a demo job: snapshot first, then events with positions, ends after succeeded', async () => {
  const job = await startJob(h.url)
  const r = await readAll(`${h.url}/jobs/${job.id}/stream`)
  assert.equal(r.status, 200)
  assert.match(r.type!, /^application\/x-ndjson/)
  const events = r.lines.filter((l) => l.message)
  assert.equal(events[0].message.type, 'snapshot')
  assert.equal(events[0].offset, undefined, 'the snapshot has no position')
  assert.equal(events.at(-1).message.type, 'succeeded')
  for (const e of events.slice(1)) assert.equal(e.stream_id, job.stream)
  assert.deepEqual(r.lines.at(-1), { type: 'disconnect', reason: 'complete', reconnect: false })
  await until(() => holdings(h).connections === 0, 'freed')
})

test('NDJSON: curl -N follows a job to its end', async () => {
  const job = await startJob(h.url, { steps: 10, delayMs: 50 })
  const { stdout } = await promisify(execFile)('curl', ['-sN', `${h.url}/jobs/${job.id}/stream`], { timeout: 20_000 })
  const lines = stdout.trim().split('\n').map((l) => JSON.parse(l))
  assert.equal(lines[0].message.type, 'snapshot')
  // The stream ends with the outcome: the succeeded event, or (when curl started only after the
  // job had finished, as a loaded machine allows) the snapshot that already holds it.
  const last = lines.filter((l) => l.message).at(-1).message
  assert.ok(last.type === 'succeeded' || (last.type === 'snapshot' && last.job.state === 'succeeded'), JSON.stringify(last))
  assert.deepEqual(lines.at(-1), { type: 'disconnect', reason: 'complete', reconnect: false })
})

test('NDJSON /stream?stream=: resumes with ?after=&epoch= after a dropped connection, no loss and no duplicates', async () => {
  const stream = 'nd/resume'
  const r = await StreamReader.ndjson(`${h.url}/stream?stream=${encodeURIComponent(stream)}`)
  assert.equal(r.status, 200)
  await until(() => h.herald.subscriberCount(stream) === 1, 'subscribed')
  await broadcast(h.url, [1, 2, 3].map((n) => ({ stream, data: JSON.stringify({ n }) })))
  await r.waitFor(() => r.lines.length === 3, 'three lines')
  const last = r.lines[2]
  r.destroy()
  await broadcast(h.url, [4, 5].map((n) => ({ stream, data: JSON.stringify({ n }) })))
  const again = await StreamReader.ndjson(`${h.url}/stream?stream=${encodeURIComponent(stream)}&after=${last.offset}&epoch=${last.epoch}`)
  await again.waitFor(() => again.lines.length === 2, 'the missed lines')
  await broadcast(h.url, { stream, data: '{"n":6}' })
  await again.waitFor(() => again.lines.length === 3, 'the live line')
  assert.deepEqual([...r.lines, ...again.lines].map((l) => [l.message.n, l.offset]), [[1, 1], [2, 2], [3, 3], [4, 4], [5, 5], [6, 6]])
  again.destroy()
})

test('NDJSON: a job resumes with ?after=&epoch= mid-run', async () => {
  const job = await startJob(h.url, { steps: 8, delayMs: 50 })
  const first = await StreamReader.ndjson(`${h.url}/jobs/${job.id}/stream`)
  await first.waitFor(() => first.lines.filter((l) => l.offset).length >= 2, 'two events')
  first.destroy()
  const seen = first.lines.filter((l) => l.offset)
  const at = seen.at(-1)
  const second = await StreamReader.ndjson(`${h.url}/jobs/${job.id}/stream?after=${at.offset}&epoch=${at.epoch}`)
  await second.waitEnded()
  const offsets = [...seen, ...second.lines.filter((l) => l.offset)].map((l) => l.offset)
  assert.deepEqual(offsets, Array.from({ length: offsets.length }, (_, i) => offsets[0] + i), 'contiguous, no duplicates')
  assert.equal(second.lines.filter((l) => l.offset).at(-1).message.type, 'succeeded')
})

test('NDJSON statuses: 400 (rejected, missing stream, after without epoch), 404 (unknown job), 401 (no token under --jwt-secret)', async () => {
  const rejected = await fetch(`${h.url}/stream?signed_stream=bad--sig`)
  assert.equal(rejected.status, 400)
  assert.equal((await rejected.json()).error.code, 'HERALD_ERR_SUBSCRIPTION_REJECTED')
  assert.equal((await fetch(`${h.url}/stream`)).status, 400)
  assert.equal((await fetch(`${h.url}/stream?stream=x&after=3`)).status, 400)
  assert.equal((await fetch(`${h.url}/jobs/nope/stream`)).status, 404)
  const a = await startHerald({ publicStreams: true, jwtSecret: 'k' })
  try {
    assert.equal((await fetch(`${a.url}/stream?stream=x`)).status, 401)
    const ok = await StreamReader.ndjson(`${a.url}/stream?stream=x`, { 'x-jid': signJwt({}, 'k') })
    assert.equal(ok.status, 200)
    ok.destroy()
  } finally {
    await a.close()
  }
  await until(() => holdings(h).connections === 0, 'nothing kept')
  assert.deepEqual(holdings(h), NO_HOLDINGS)
})

test('HEAD on a stream endpoint answers the GET\'s status and headers and holds nothing', async () => {
  const head = await fetch(`${h.url}/stream?stream=nd/head`, { method: 'HEAD' })
  assert.equal(head.status, 200)
  assert.match(head.headers.get('content-type')!, /^application\/x-ndjson/)
  const sse = await fetch(`${h.url}/events?stream=nd/head`, { method: 'HEAD' })
  assert.match(sse.headers.get('content-type')!, /^text\/event-stream/)
  assert.equal((await fetch(`${h.url}/events`, { method: 'HEAD' })).status, 400)
  await until(() => holdings(h).connections === 0, 'nothing held')
  assert.deepEqual(holdings(h), NO_HOLDINGS)
})

test('NDJSON: readers that vanish free everything they held', async () => {
  const readers = await Promise.all(['a', 'b', 'c'].map((s) => StreamReader.ndjson(`${h.url}/stream?stream=nd/${s}`)))
  await until(() => holdings(h).subscriptions === 3, 'three subscriptions')
  for (const r of readers) r.destroy()
  await until(() => holdings(h).connections === 0, 'freed')
  assert.deepEqual(holdings(h), NO_HOLDINGS)
})
