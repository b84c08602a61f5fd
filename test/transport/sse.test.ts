import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { signJwt } from '../../src/auth/jwt.js'
import { publicIdentifier } from '../../src/protocol/identifier.js'
import { startHerald, WireClient, type TestHerald } from '../support/herald.js'
import { broadcast, metric, until } from '../support/util.js'
import { SteppedJobs } from '../support/stepped-job.js'
import { holdings, NO_HOLDINGS, startJob, StreamReader } from './http-clients.js'

let h: TestHerald
let jobs: SteppedJobs
before(async () => {
  h = await startHerald({ publicStreams: true, pingInterval: 0.2 })
  jobs = new SteppedJobs(h.herald)
})
after(() => h.close())

test('SSE: a job from its snapshot through its events to succeeded, then a disconnect event that stops reconnects, then the end', async () => {
  const job = await jobs.start(h.url)
  await job.started()
  const r = await StreamReader.sse(`${h.url}/jobs/${job.id}/events`)
  assert.equal(r.status, 200)
  assert.match(String(r.headers['content-type']), /^text\/event-stream/)
  assert.equal(r.headers['x-accel-buffering'], 'no')
  assert.match(String(r.headers['cache-control']), /no-cache/)
  await r.waitFor(() => r.data.length === 1, 'the snapshot')
  await job.progress(0.5, 'half way')
  await job.succeed({ done: true })
  await r.waitEnded()
  const data = r.data
  assert.deepEqual(data.map((e) => e.type), ['snapshot', 'progress', 'succeeded'])
  assert.equal(data[0].job.state, 'running')
  assert.deepEqual([data[1].progress, data[1].message], [0.5, 'half way'])
  assert.deepEqual([data[2].progress, data[2].result], [1, { done: true }])
  assert.ok(data.slice(1).every((e) => e.job === job.id))
  // The start event (offset 1) came before the subscription; the two live ones carry their positions.
  const ids = r.events.filter((e) => e.event === 'message' && e.id).map((e) => e.id!)
  assert.equal(ids.length, 2)
  ids.forEach((id, i) => assert.match(id, new RegExp(`^${i + 2}/[\\w-]+/job:${job.id}$`)))
  const last = r.events.at(-1)!
  assert.equal(last.event, 'disconnect')
  assert.deepEqual(JSON.parse(last.data), { type: 'disconnect', reason: 'complete', reconnect: false })
  assert.equal(last.retry, 31_536_000_000)
  await until(() => holdings(h).connections === 0, 'connection freed')
  assert.deepEqual(holdings(h), NO_HOLDINGS)
})

test('SSE: a finished job answers with its snapshot and ends', async () => {
  const job = await startJob(h.url, { steps: 1, delayMs: 0 })
  await until(async () => (await (await fetch(`${h.url}/jobs/${job.id}`)).json()).state === 'succeeded', 'job done')
  const r = await StreamReader.sse(`${h.url}/jobs/${job.id}/events`)
  await r.waitEnded()
  assert.deepEqual(r.data.map((e) => e.type), ['snapshot'])
  assert.equal(r.data[0].job.state, 'succeeded')
  assert.equal(r.events.at(-1)!.event, 'disconnect')
})

test('SSE: a job resumes after a dropped connection via Last-Event-ID, with no loss and no duplicates', async () => {
  const job = await jobs.start(h.url)
  await job.started()
  const positioned = (r: StreamReader) => r.events.filter((e) => e.event === 'message' && e.id)
  const first = await StreamReader.sse(`${h.url}/jobs/${job.id}/events`)
  await first.waitFor(() => first.data.length === 1, 'the snapshot')
  await job.progress(0.2)
  await job.progress(0.4)
  await first.waitFor(() => positioned(first).length === 2, 'two positioned events')
  first.destroy()
  await until(() => h.herald.subscriberCount(job.stream) === 0, 'the server saw the drop')
  await job.progress(0.6) // while it is away
  await job.progress(0.8)
  const second = await StreamReader.sse(`${h.url}/jobs/${job.id}/events`, { 'last-event-id': positioned(first).at(-1)!.id! })
  assert.equal(second.status, 200)
  await second.waitFor(() => positioned(second).length === 2, 'the two missed events')
  await job.succeed()
  await second.waitEnded()
  // With a position the backlog comes first and the snapshot after it (docs/protocol.md).
  assert.deepEqual(second.data.map((e) => e.type), ['progress', 'progress', 'snapshot', 'succeeded'])
  const all = [...positioned(first), ...positioned(second)]
  assert.deepEqual(all.map((e) => Number(e.id!.split('/')[0])), [2, 3, 4, 5, 6], 'every event once, in order')
  assert.deepEqual(all.map((e) => JSON.parse(e.data).progress), [0.2, 0.4, 0.6, 0.8, 1])
  assert.equal(JSON.parse(all.at(-1)!.data).type, 'succeeded')
})

test('SSE GET /events?stream=: control events, bare messages with ids, resume exactly after Last-Event-ID', async () => {
  const stream = 'sse/resume'
  const r = await StreamReader.sse(`${h.url}/events?stream=${encodeURIComponent(stream)}`)
  await r.waitFor(() => r.events.some((e) => e.event === 'confirm_subscription'), 'confirmation')
  assert.equal(r.events[0].event, 'welcome')
  await broadcast(h.url, [1, 2, 3].map((n) => ({ stream, data: JSON.stringify({ n }) })))
  await r.waitFor(() => r.data.length === 3, 'three messages')
  assert.deepEqual(r.data, [{ n: 1 }, { n: 2 }, { n: 3 }])
  const ids = r.events.filter((e) => e.id).map((e) => e.id!)
  assert.match(ids[2], /^3\/[\w-]+\/sse\/resume$/, 'id is offset/epoch/stream; the stream may hold /')
  r.destroy()
  await broadcast(h.url, [4, 5].map((n) => ({ stream, data: JSON.stringify({ n }) })))
  const again = await StreamReader.sse(`${h.url}/events?stream=${encodeURIComponent(stream)}`, { 'last-event-id': ids[2] })
  await again.waitFor(() => again.data.length === 2, 'the two missed messages')
  await broadcast(h.url, { stream, data: JSON.stringify({ n: 6 }) })
  await again.waitFor(() => again.data.length === 3, 'the live message')
  assert.deepEqual(again.data, [{ n: 4 }, { n: 5 }, { n: 6 }])
  await again.waitFor(() => again.events.some((e) => e.event === 'ping'), 'pings, as event: ping')
  again.destroy()
})

test('SSE POST /events: JSON Lines subscribes; events carry whole reply objects', async () => {
  const stream = 'sse/post'
  const identifier = publicIdentifier(stream)
  const body = JSON.stringify({ command: 'subscribe', identifier }) + '\n' + JSON.stringify({ command: 'subscribe', identifier: publicIdentifier('sse/post2') })
  const r = await StreamReader.sse(`${h.url}/events`, { 'content-type': 'application/x-ndjson' }, { method: 'POST', body })
  assert.equal(r.status, 200)
  await r.waitFor(() => r.events.filter((e) => e.event === 'confirm_subscription').length === 2, 'two confirmations')
  await broadcast(h.url, { stream, data: '"plain text"' })
  await r.waitFor(() => r.data.length === 1, 'a message')
  assert.deepEqual(r.data[0], { identifier, message: 'plain text', stream_id: stream, epoch: r.data[0].epoch, offset: 1 })
  r.destroy()
})

test('SSE: a string message is written raw, lines split into data: lines', async () => {
  const stream = 'sse/raw'
  const r = await StreamReader.sse(`${h.url}/events?stream=${stream}`)
  await r.waitFor(() => r.events.some((e) => e.event === 'confirm_subscription'), 'confirmation')
  await broadcast(h.url, { stream, data: 'line one\nline two' })
  await r.waitFor(() => r.events.some((e) => e.event === 'message'), 'a message')
  assert.equal(r.events.find((e) => e.event === 'message')!.data, 'line one\nline two')
  assert.match(r.body, /data: line one\ndata: line two\nid: 1\//)
  r.destroy()
})

test('SSE statuses: 400 for a rejected subscription (nothing kept), a missing stream or a bad Last-Event-ID; 404 for an unknown job', async () => {
  const before400 = await metric(h.url, 'herald_errors_total', { code: 'HERALD_ERR_SUBSCRIPTION_REJECTED' })
  const rejected = await fetch(`${h.url}/events?signed_stream=${encodeURIComponent('bm9wZQ==--00')}`)
  assert.equal(rejected.status, 400)
  assert.equal((await rejected.json()).error.code, 'HERALD_ERR_SUBSCRIPTION_REJECTED')
  assert.equal(await metric(h.url, 'herald_errors_total', { code: 'HERALD_ERR_SUBSCRIPTION_REJECTED' }), before400 + 1)
  const missing = await fetch(`${h.url}/events`)
  assert.equal(missing.status, 400)
  assert.equal((await missing.json()).error.code, 'HERALD_ERR_BAD_REQUEST')
  const badId = await fetch(`${h.url}/events?stream=x`, { headers: { 'last-event-id': 'nonsense' } })
  assert.equal(badId.status, 400)
  await badId.body?.cancel()
  const badPost = await fetch(`${h.url}/events`, { method: 'POST', body: '{"command":"unsubscribe","identifier":"x"}' })
  assert.equal(badPost.status, 400)
  assert.equal((await badPost.json()).error.code, 'HERALD_ERR_BAD_COMMAND')
  const unknown = await fetch(`${h.url}/jobs/nope/events`)
  assert.equal(unknown.status, 404)
  await unknown.body?.cancel()
  await until(() => holdings(h).connections === 0, 'nothing kept')
  assert.deepEqual(holdings(h), NO_HOLDINGS)
  assert.equal(h.herald.stats().restorableSessions, 0, 'SSE sessions leave nothing to restore')
})

test('SSE: clients that vanish mid-stream free everything they held', async () => {
  const job = await jobs.start(h.url)
  const readers = await Promise.all([
    StreamReader.sse(`${h.url}/jobs/${job.id}/events`),
    StreamReader.sse(`${h.url}/events?stream=a`),
    StreamReader.sse(`${h.url}/events?stream=b`),
  ])
  await until(() => readers.every((r) => r.events.length > 0), 'all streams started')
  assert.equal(holdings(h).connections, 3)
  assert.equal(holdings(h).subscriptions, 3)
  for (const r of readers) r.destroy()
  await until(() => holdings(h).connections === 0, 'connections freed')
  assert.deepEqual(holdings(h), NO_HOLDINGS)
  await fetch(`${h.url}/jobs/${job.id}/cancel`, { method: 'POST' })
})

test('connection auth (--jwt-secret): 401 over SSE without a valid token, 200 with one, and WebSocket hears unauthorized', async () => {
  const secret = 'test-secret'
  const a = await startHerald({ publicStreams: true, jwtSecret: secret })
  try {
    const none = await fetch(`${a.url}/events?stream=x`)
    assert.equal(none.status, 401)
    assert.equal((await none.json()).error.code, 'HERALD_ERR_UNAUTHORIZED')
    const forged = await fetch(`${a.url}/events?stream=x&jid=${signJwt({ ext: '{}' }, 'other')}`)
    assert.equal(forged.status, 401)
    await forged.body?.cancel()
    const expired = await fetch(`${a.url}/events?stream=x`, { headers: { 'x-jid': signJwt({ exp: 1 }, secret) } })
    assert.equal(expired.status, 401)
    await expired.body?.cancel()
    const ok = await StreamReader.sse(`${a.url}/events?stream=x&jid=${signJwt({ ext: '{"user":1}' }, secret)}`)
    assert.equal(ok.status, 200)
    ok.destroy()
    const ws = await WireClient.connect(a.wsUrl)
    const msg = await ws.waitForType('disconnect')
    assert.deepEqual(msg, { type: 'disconnect', reason: 'unauthorized', reconnect: false })
    await ws.closed()
    assert.ok(!ws.messages.some((m) => m.type === 'welcome'))
    const wsOk = await WireClient.connect(`${a.wsUrl}?jid=${signJwt({}, secret)}`)
    await wsOk.waitForType('welcome')
    wsOk.close()
    // No token, a forged one and an expired one over SSE, and the WebSocket without one.
    assert.equal(await metric(a.url, 'herald_errors_total', { code: 'HERALD_ERR_UNAUTHORIZED' }), 4)
  } finally {
    await a.close()
  }
})

test('SSE GET /events?history_since=: messages kept since that time come first', async () => {
  const stream = 'sse/since'
  await broadcast(h.url, [{ stream, data: '{"n":1}' }, { stream, data: '{"n":2}' }])
  const since = Math.floor(Date.now() / 1000) - 60
  const r = await StreamReader.sse(`${h.url}/events?stream=${stream}&history_since=${since}`)
  await r.waitFor(() => r.events.some((e) => e.event === 'confirm_history'), 'history confirmed')
  assert.deepEqual(r.data, [{ n: 1 }, { n: 2 }])
  r.destroy()
  assert.equal((await fetch(`${h.url}/events?stream=${stream}&history_since=yesterday`)).status, 400)
})

/** Raw HTTP/1.x over one socket: what the server wrote, as text, once `done` says so. */
async function rawExchange(port: number, request: string, done: (text: string) => boolean, publish: () => Promise<unknown>): Promise<string> {
  const { connect } = await import('node:net')
  const socket = connect(port, '127.0.0.1')
  let text = ''
  socket.on('data', (c: Buffer) => { text += c.toString('latin1') })
  socket.write(request)
  await until(() => text.includes('\r\n\r\n'), 'response head')
  await publish()
  await until(() => done(text), 'expected bytes')
  socket.destroy()
  return text
}

test('SSE over HTTP/1.1 is chunked (one chunk per event, written straight to the socket); an HTTP/1.0 client gets the same events unchunked', async () => {
  const port = Number(new URL(h.url).port)
  const stream = 'raw-h1-chunks'
  const send = () => broadcast(h.url, [{ stream, data: '{"n":1}' }, { stream, data: '{"n":2}' }])
  const h11 = await rawExchange(port, `GET /events?stream=${stream} HTTP/1.1\r\nHost: x\r\n\r\n`, (t) => t.includes('{"n":2}'), send)
  assert.match(h11, /transfer-encoding: chunked/i)
  const body = h11.slice(h11.indexOf('\r\n\r\n') + 4)
  // Every event sits in a chunk of its own exact size.
  const events = [...body.matchAll(/([0-9a-f]+)\r\n(data: \{"n":\d\}\nid: [^\n]+\n\n)\r\n/g)]
  assert.equal(events.length, 2, body)
  for (const [, size, event] of events) assert.equal(parseInt(size, 16), Buffer.byteLength(event))
  const h10 = await rawExchange(port, `GET /events?stream=${stream}-10 HTTP/1.0\r\n\r\n`, (t) => t.includes('{"n":2}'),
    () => broadcast(h.url, [{ stream: `${stream}-10`, data: '{"n":1}' }, { stream: `${stream}-10`, data: '{"n":2}' }]))
  assert.doesNotMatch(h10, /transfer-encoding/i)
  // The same events as over HTTP/1.1, unchunked: welcome first, the confirmation, then the two messages (pings may come between).
  const body10 = h10.slice(h10.indexOf('\r\n\r\n') + 4)
  assert.match(body10, /^event: welcome\ndata: \{"type":"welcome"[^\n]*\n\n/)
  assert.match(body10, /\nevent: confirm_subscription\n[^]*\ndata: \{"n":1\}\nid: [^\n]+\n\ndata: \{"n":2\}\nid: [^\n]+\n\n$/)
})

test('SSE pipelined behind a job stream: its events wait in the response (not on the socket) until the job stream ends, then arrive as proper chunks', async () => {
  const port = Number(new URL(h.url).port)
  const job = await jobs.start(h.url)
  const stream = 'pipelined-behind-job'
  const { connect } = await import('node:net')
  const socket = connect(port, '127.0.0.1')
  let text = ''
  socket.on('data', (c: Buffer) => { text += c.toString('latin1') })
  // Two requests in one write: Node answers them in order, so the second response has no socket yet.
  socket.write(`GET /jobs/${job.id}/stream HTTP/1.1\r\nHost: x\r\n\r\nGET /events?stream=${stream} HTTP/1.1\r\nHost: x\r\n\r\n`)
  await until(() => h.herald.subscriberCount(job.stream) === 1 && h.herald.subscriberCount(stream) === 1, 'both subscribed')
  await broadcast(h.url, [{ stream, data: '{"n":1}' }, { stream, data: '{"n":2}' }])
  // The job stream is still open, so those events wait in the second response; now it ends.
  await job.succeed()
  await until(() => text.includes('{"n":2}'), 'the pipelined events', 10_000)
  socket.destroy()
  const second = text.slice(text.lastIndexOf('HTTP/1.1 200'))
  assert.ok(text.indexOf('"succeeded"') < text.lastIndexOf('HTTP/1.1 200'), 'the job stream ended first')
  assert.match(second, /transfer-encoding: chunked/i)
  // Node chunked these bytes itself (the fallback unchunks ours): decoding must give whole events in order.
  let rest = second.slice(second.indexOf('\r\n\r\n') + 4)
  let payload = ''
  for (;;) {
    const nl = rest.indexOf('\r\n')
    if (nl < 0) break
    const size = parseInt(rest.slice(0, nl), 16)
    if (!(size > 0) || rest.length < nl + 2 + size + 2) break
    assert.equal(rest.slice(nl + 2 + size, nl + 4 + size), '\r\n', 'a chunk ends where its size says')
    payload += rest.slice(nl + 2, nl + 2 + size)
    rest = rest.slice(nl + 4 + size)
  }
  assert.match(payload, /data: \{"n":1\}\nid: [^\n]+\n\ndata: \{"n":2\}\nid: [^\n]+\n\n/)
  assert.doesNotMatch(payload, /\r\n/, 'no chunk framing inside the payload (chunked twice)')
})
