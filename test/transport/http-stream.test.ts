import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { after, before, test } from 'node:test'
import { promisify } from 'node:util'
import { signJwt } from '../../src/auth/jwt.js'
import { startHerald, type TestHerald } from '../support/herald.js'
import { broadcast, until } from '../support/util.js'
import { SteppedJobs } from '../support/stepped-job.js'
import { holdings, NO_HOLDINGS, StreamReader } from './http-clients.js'

let h: TestHerald
let jobs: SteppedJobs
before(async () => {
  h = await startHerald({ publicStreams: true })
  jobs = new SteppedJobs(h.herald)
})
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

test('NDJSON: fetch() + ReadableStream follows a job: snapshot first, then events with positions, ends after succeeded', async () => {
  const job = await jobs.start(h.url)
  await job.started()
  const reading = readAll(`${h.url}/jobs/${job.id}/stream`)
  await until(() => h.herald.subscriberCount(job.stream) === 1, 'the reader subscribed')
  await job.progress(0.5, 'half way')
  await job.succeed({ done: true })
  const r = await reading
  assert.equal(r.status, 200)
  assert.match(r.type!, /^application\/x-ndjson/)
  const [snapshot, progress, succeeded, end, ...rest] = r.lines
  assert.deepEqual(rest, [])
  assert.deepEqual(Object.keys(snapshot), ['message'], 'the snapshot has no position')
  assert.equal(snapshot.message.type, 'snapshot')
  assert.deepEqual([progress.message.type, progress.message.progress, progress.offset, progress.stream_id], ['progress', 0.5, 2, job.stream])
  assert.deepEqual([succeeded.message.type, succeeded.offset, succeeded.epoch], ['succeeded', 3, progress.epoch])
  assert.deepEqual(end, { type: 'disconnect', reason: 'complete', reconnect: false })
  await until(() => holdings(h).connections === 0, 'freed')
})

test('NDJSON: curl -N follows a job to its end', async () => {
  const job = await jobs.start(h.url)
  await job.started()
  const curl = promisify(execFile)('curl', ['-sN', `${h.url}/jobs/${job.id}/stream`], { timeout: 20_000 })
  await until(() => h.herald.subscriberCount(job.stream) === 1, 'curl subscribed')
  await job.progress(0.5)
  await job.succeed()
  const lines = (await curl).stdout.trim().split('\n').map((l) => JSON.parse(l))
  assert.deepEqual(lines.map((l) => l.message?.type ?? l.type), ['snapshot', 'progress', 'succeeded', 'disconnect'])
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
  const job = await jobs.start(h.url)
  await job.started()
  const first = await StreamReader.ndjson(`${h.url}/jobs/${job.id}/stream`)
  await first.waitFor(() => first.lines.length === 1, 'the snapshot')
  await job.progress(0.2)
  await job.progress(0.4)
  await first.waitFor(() => first.lines.length === 3, 'two events')
  first.destroy()
  await until(() => h.herald.subscriberCount(job.stream) === 0, 'the server saw the drop')
  await job.progress(0.6) // while it is away
  const at = first.lines.at(-1)
  const second = await StreamReader.ndjson(`${h.url}/jobs/${job.id}/stream?after=${at.offset}&epoch=${at.epoch}`)
  await second.waitFor(() => second.lines.some((l) => l.offset === 4), 'the missed event')
  await job.succeed()
  await second.waitEnded()
  const offsets = [...first.lines, ...second.lines].filter((l) => l.offset).map((l) => l.offset)
  assert.deepEqual(offsets, [2, 3, 4, 5], 'every event once, in order')
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
