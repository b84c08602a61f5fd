import assert from 'node:assert/strict'
import http2 from 'node:http2'
import { after, before, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { publicIdentifier } from '../../src/protocol/identifier.js'
import { connectH2, curl, H2Reader, h2Request } from '../support/h2.js'
import { startHerald, type TestHerald } from '../support/herald.js'
import { SteppedJobs } from '../support/stepped-job.js'
import { makeSelfSignedCert, type TestCert } from '../support/tls.js'
import { until } from '../support/util.js'

// SSE, NDJSON, session long polling and the per-job poll over HTTP/2 (TLS and h2c), with curl
// and Node's client. No protocol pings (pingInterval 0) and an h2 idle timeout of 0.5 s, so a
// silent stream that lives longer than that does so because it is immortal.
const IDLE = 0.5

let h: TestHerald
let cert: TestCert
let h2c: string // cleartext, h2-half-closed-long-poll
let tls: string // TLS, h2-half-closed-long-poll
let plain: string // cleartext, without the option
let jobs: SteppedJobs

before(async () => {
  cert = makeSelfSignedCert()
  h = await startHerald({
    publicStreams: true,
    pingInterval: 0,
    pollInterval: 3,
    pollFlushInterval: 0.05,
    h2IdleTimeout: IDLE,
    h2HalfClosedLongPoll: true,
    listeners: [
      { name: 'tls', port: 0, tlsCert: cert.cert, tlsKey: cert.key, h2HalfClosedLongPoll: true },
      { name: 'plain', port: 0 },
    ],
  })
  ;[h2c, tls, plain] = h.herald.listeners.map((l) => l.url)
  jobs = new SteppedJobs(h.herald)
})
after(async () => {
  await h.close()
  cert.remove()
})

async function publish(stream: string, data: unknown): Promise<void> {
  const res = await fetch(`${h.url}/_broadcast`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ stream, data: JSON.stringify(data) }) })
  assert.equal(res.status, 201)
}

async function startJob(type = 'demo', input: unknown = { steps: 3, delayMs: 100 }): Promise<any> {
  const res = await fetch(`${h.url}/jobs`, { method: 'POST', body: JSON.stringify({ type, input }) })
  assert.equal(res.status, 201)
  return res.json()
}

const curlH2 = (base: string) => (base.startsWith('https') ? ['-k', '--http2'] : ['--http2-prior-knowledge'])
const lines = (text: string) => text.split('\n').filter(Boolean)

for (const scheme of ['h2c', 'tls'] as const) {
  const base = () => (scheme === 'tls' ? tls : h2c)

  test(`${scheme}: curl follows a job over SSE and over NDJSON on HTTP/2`, async () => {
    // Both streams end by themselves after the job's final event; each step waits for curl.
    const [a, b] = [await jobs.start(h.url), await jobs.start(h.url)]
    const following = Promise.all([
      curl([...curlH2(base()), '-N', '-w', '\n[%{http_version}]', `${base()}/jobs/${a.id}/events`]),
      curl([...curlH2(base()), '-N', '-w', '\n[%{http_version}]', `${base()}/jobs/${b.id}/stream`]),
    ])
    await until(() => h.herald.subscriberCount(a.stream) === 1 && h.herald.subscriberCount(b.stream) === 1, 'both curls subscribed')
    for (const job of [a, b]) {
      await job.progress(0.5)
      await job.succeed()
    }
    const [sse, nd] = await following
    for (const r of [sse, nd]) {
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout, /\[2\]$/, 'over HTTP/2')
    }
    const sseEvents = [...sse.stdout.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1]))
    assert.deepEqual(sseEvents.map((e) => e.type), ['snapshot', 'progress', 'succeeded', 'disconnect'])
    const ndLines = lines(nd.stdout).slice(0, -1).map((l) => JSON.parse(l))
    assert.deepEqual(ndLines.map((l) => l.message?.type ?? l.type), ['snapshot', 'progress', 'succeeded', 'disconnect'])
  })

  test(`${scheme}: curl long-polls a session (/lp) and a job (/jobs/:id/poll) on HTTP/2`, async () => {
    const stream = `h2/lp/${scheme}`
    const first = await curl([...curlH2(base()), '-D', '-', '-X', 'POST', '--data-binary', JSON.stringify({ command: 'subscribe', identifier: publicIdentifier(stream) }), `${base()}/lp`])
    assert.equal(first.code, 0, first.stderr)
    assert.match(first.stdout, /^HTTP\/2 200/)
    const pollId = /x-anycable-poll-id: (\S+)/i.exec(first.stdout)?.[1]
    assert.ok(pollId, first.stdout)
    assert.match(first.stdout, /"type":"welcome"/)
    // A held poll that outlives the idle timeout and answers with what is published meanwhile.
    const held = curl([...curlH2(base()), '-X', 'POST', '-H', `x-anycable-poll-id: ${pollId}`, '-w', '\n[%{http_version}]', `${base()}/lp`])
    await until(() => h.herald.stats().longPoll.heldPolls === 1, 'the poll held')
    await sleep(IDLE * 1000 * 2.5)
    await publish(stream, { n: 1 })
    const second = await held
    assert.equal(second.code, 0, second.stderr)
    assert.ok(lines(second.stdout).some((l) => l.includes('"n":1')), second.stdout)
    assert.match(second.stdout, /\[2\]$/)

    const job = await jobs.start(h.url)
    await job.started()
    const jp = await curl([...curlH2(base()), '-w', '\n[%{http_version}]', `${base()}/jobs/${job.id}/poll?after=0&timeout=5`])
    assert.equal(jp.code, 0, jp.stderr)
    assert.match(jp.stdout, /\[2\]$/)
    const answer = JSON.parse(lines(jp.stdout)[0])
    assert.deepEqual([answer.events.map((e: any) => [e.type, e.progress]), answer.after], [[['progress', 0]], 1], 'the start event, from the cursor 0')
    await job.succeed()
  })

  test(`${scheme}: Node's http2 client: SSE and NDJSON receive a broadcast; a session long poll and a job poll answer`, async () => {
    const session = await connectH2(base())
    const stream = `h2/node/${scheme}`
    const sse = H2Reader.open(session, `/events?stream=${encodeURIComponent(stream)}`)
    const nd = H2Reader.open(session, `/stream?stream=${encodeURIComponent(stream)}`)
    await sse.waitFor((b) => b.includes('confirm_subscription'), 'the SSE confirmation')
    // NDJSON carries data only; it is subscribed before its headers are sent.
    await until(() => nd.status !== 0 || nd.ended, 'the NDJSON response headers')
    assert.equal(nd.status, 200)
    assert.match(String(sse.headers['content-type']), /text\/event-stream/)
    await publish(stream, { hello: scheme })
    await sse.waitFor((b) => b.includes(`data: {"hello":"${scheme}"}`), 'the SSE event')
    await nd.waitFor((b) => b.includes(`"message":{"hello":"${scheme}"}`), 'the NDJSON line')
    // The SSE stream stays open: it keeps the connection immortal while the test goes on, so a
    // slow publish on a loaded machine cannot let the 0.5 s idle timeout close it in between.
    nd.stream.close()

    const first = H2Reader.open(session, '/lp', { method: 'POST', body: JSON.stringify({ command: 'subscribe', identifier: publicIdentifier(stream) }) })
    await first.closed()
    const pollId = String(first.headers['x-anycable-poll-id'])
    assert.match(first.body, /confirm_subscription/)
    const held = H2Reader.open(session, '/lp', { method: 'POST', body: '', headers: { 'x-anycable-poll-id': pollId } })
    await until(() => h.herald.stats().longPoll.heldPolls === 1, 'the poll held')
    await publish(stream, { polled: true })
    await held.closed()
    assert.equal(held.status, 200)
    assert.match(held.body, /"polled":true/)

    const job = await jobs.start(h.url)
    await job.started()
    const jp = await h2Request(session, `/jobs/${job.id}/poll?after=0&timeout=5`)
    assert.equal(jp.status, 200)
    assert.deepEqual(JSON.parse(jp.body).events.map((e: any) => [e.type, e.progress]), [['progress', 0]])
    await job.succeed()
    sse.stream.close()
    session.close()
  })
}

test('immortal SSE: silent for several idle timeouts on an option listener, then an event; cut on the plain listener', async () => {
  const stream = 'h2/quiet'
  const kept = await connectH2(h2c)
  const cutSession = await connectH2(plain)
  const alive = H2Reader.open(kept, `/events?stream=${stream}`)
  const cut = H2Reader.open(cutSession, `/events?stream=${stream}`)
  await alive.waitFor((b) => b.includes('confirm_subscription'), 'confirmation')
  await cut.closed(5000)
  assert.equal(cut.rstCode, http2.constants.NGHTTP2_CANCEL, 'the plain listener cancelled the silent stream')
  await sleep(IDLE * 1000 * 4)
  assert.equal(alive.ended, false)
  await publish(stream, { late: true })
  await alive.waitFor((b) => b.includes('data: {"late":true}'), 'the event after the silence')
  alive.stream.close()
  kept.close()
  cutSession.destroy()
})

test('immortal held polls: a session long poll (3 s hold) and a job poll outlive the idle timeout; cut on the plain listener', async () => {
  for (const [base, immortal] of [[h2c, true], [plain, false]] as const) {
    // An external job without events: its poll waits for the first one, here until its timeout.
    const job = await startJob('external', undefined)
    const first = await curl([...curlH2(base), '-D', '-', '-X', 'POST', '--data-binary', JSON.stringify({ command: 'subscribe', identifier: publicIdentifier('h2/held') }), `${base}/lp`])
    const pollId = /x-anycable-poll-id: (\S+)/i.exec(first.stdout)?.[1]
    assert.ok(pollId, first.stdout)
    const session = await connectH2(base)
    const lp = H2Reader.open(session, '/lp', { method: 'POST', headers: { 'x-anycable-poll-id': pollId } })
    const jp = H2Reader.open(session, `/jobs/${job.id}/poll?after=0&timeout=3`)
    await Promise.all([lp.closed(), jp.closed()])
    if (immortal) {
      assert.equal(lp.status, 200, 'the held long poll answered at its hold time')
      assert.equal(lp.rstCode, 0)
      assert.equal(jp.status, 204, 'the job poll answered 204 at its timeout')
      assert.equal(jp.rstCode, 0)
    } else {
      assert.equal(lp.rstCode, http2.constants.NGHTTP2_CANCEL)
      assert.equal(jp.rstCode, http2.constants.NGHTTP2_CANCEL)
    }
    session.destroy()
  }
})

test('curl --http2-prior-knowledge: a silent SSE stream outlives the idle timeout on the option listener', async () => {
  const stream = 'h2/curl-quiet'
  const pending = curl(['--http2-prior-knowledge', '-N', '-m', '6', `${h2c}/events?stream=${stream}`])
  await until(() => h.herald.subscriberCount(stream) === 1, 'curl subscribed')
  await sleep(IDLE * 1000 * 4)
  await publish(stream, { after: 'silence' })
  const r = await pending
  assert.equal(r.code, 28, 'ended by curl\'s own -m, not by the server')
  assert.match(r.stdout, /data: \{"after":"silence"\}/)
})

test('tls: HTTP/1.1 on the same port (ALPN http/1.1) serves the same transports', async () => {
  const v = ['-k', '--http1.1']
  const job = await jobs.start(h.url)
  const following = Promise.all([
    curl([...v, '-N', '-w', '\n[%{http_version}]', `${tls}/jobs/${job.id}/events`]),
    curl([...v, '-N', '-w', '\n[%{http_version}]', `${tls}/jobs/${job.id}/stream`]),
  ])
  await until(() => h.herald.subscriberCount(job.stream) === 2, 'SSE and NDJSON subscribed')
  await job.progress(0.5)
  await job.succeed()
  const [sse, nd] = await following
  const jp = await curl([...v, '-w', '\n[%{http_version}]', `${tls}/jobs/${job.id}/poll?after=0&timeout=5`])
  for (const r of [sse, nd, jp]) {
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /\[1\.1\]$/)
  }
  assert.match(sse.stdout, /"type":"progress"[^]*"type":"succeeded"/)
  assert.match(nd.stdout, /"type":"progress"[^]*"type":"succeeded"/)
  assert.deepEqual(JSON.parse(lines(jp.stdout)[0]).events.map((e: any) => e.type), ['progress', 'progress', 'succeeded'])
  const lp = await curl([...v, '-D', '-', '-X', 'POST', '--data-binary', JSON.stringify({ command: 'subscribe', identifier: publicIdentifier('h2/h1') }), `${tls}/lp`])
  assert.match(lp.stdout, /^HTTP\/1\.1 200/)
  assert.match(lp.stdout, /x-anycable-poll-id: /i)
  assert.match(lp.stdout, /"type":"welcome"/)
})
