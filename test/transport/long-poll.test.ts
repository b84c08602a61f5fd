import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, test } from 'node:test'
import { signJwt } from '../../src/auth/jwt.js'
import { publicIdentifier, signedIdentifier } from '../../src/protocol/identifier.js'
import { startHerald, type TestHerald } from '../support/herald.js'
import { broadcast, metric, until } from '../support/util.js'
import { SteppedJobs } from '../support/stepped-job.js'
import { holdings, lpPost, NO_HOLDINGS } from './http-clients.js'

let h: TestHerald
let lp: string
let jobs: SteppedJobs
before(async () => {
  h = await startHerald({ publicStreams: true, pollInterval: 2, pollFlushInterval: 0.05 })
  lp = `${h.url}/lp`
  jobs = new SteppedJobs(h.herald)
})
after(() => h.close())

const subscribe = (identifier: string) => JSON.stringify({ command: 'subscribe', identifier })
const dataOf = (lines: any[]) => lines.filter((m) => m.type === undefined && m.offset !== undefined)

/** Polls until `done(lines so far)`; returns every line. */
async function pollUntil(url: string, pollId: string, done: (all: any[]) => boolean, all: any[] = []): Promise<any[]> {
  for (let i = 0; i < 200 && !done(all); i++) {
    const r = await lpPost(url, { pollId })
    assert.equal(r.status, 200)
    assert.equal(r.pollId, pollId)
    all.push(...r.lines)
  }
  return all
}

test('long poll: first POST opens a session (poll id, welcome, confirmation); a job is followed to succeeded', async () => {
  const job = await jobs.start(h.url)
  await job.started()
  const identifier = signedIdentifier(job.signedStream)
  const clients = await metric(h.url, 'long_poll_clients_num')
  const first = await lpPost(lp, { body: subscribe(identifier) })
  assert.equal(first.status, 200)
  assert.match(first.pollId!, /^[\w-]{22,}$/, 'at least 128 random bits')
  assert.deepEqual(first.lines.map((m) => m.type ?? m.message.type), ['welcome', 'confirm_subscription', 'snapshot'])
  assert.equal(first.lines[1].identifier, identifier)
  assert.equal(await metric(h.url, 'long_poll_clients_num'), clients + 1)
  await job.progress(0.5)
  await job.succeed()
  const all = await pollUntil(lp, first.pollId!, (a) => a.some((m) => m.message?.type === 'succeeded'), [...first.lines])
  // The start event (offset 1) came before the subscription; then each event once, in order.
  assert.deepEqual(dataOf(all).map((m) => [m.offset, m.message.type]), [[2, 'progress'], [3, 'succeeded']])
  assert.ok(!all.some((m) => m.type === 'ping'), 'pings are not sent over long polling')
})

test('long poll: messages published between polls arrive with the next poll, exactly once', async () => {
  const stream = 'lp/between'
  const first = await lpPost(lp, { body: subscribe(publicIdentifier(stream)) })
  const pollId = first.pollId!
  await broadcast(h.url, [1, 2, 3].map((n) => ({ stream, data: JSON.stringify({ n }) })))
  const second = await lpPost(lp, { pollId })
  assert.deepEqual(dataOf(second.lines).map((m) => m.message.n), [1, 2, 3])
  const held = lpPost(lp, { pollId })
  await until(() => h.herald.stats().longPoll.heldPolls > 0, 'the poll is held')
  await broadcast(h.url, { stream, data: '{"n":4}' })
  const third = await held
  assert.deepEqual(dataOf(third.lines).map((m) => m.message.n), [4])
})

test('long poll: a second poll while one is held answers the first at once and empty; the second carries what the first had collected', async () => {
  const stream = 'lp/overlap'
  const a = await startHerald({ publicStreams: true, pollInterval: 10, pollFlushInterval: 5 })
  try {
    const url = `${a.url}/lp`
    const first = await lpPost(url, { body: subscribe(publicIdentifier(stream)) })
    const pollId = first.pollId!
    const pollA = lpPost(url, { pollId })
    await until(() => a.herald.stats().longPoll.heldPolls === 1, 'poll A held')
    await broadcast(a.url, { stream, data: '{"n":1}' })
    // A has collected the message once its 5 s flush window runs beside its hold (a second deadline).
    await until(() => a.herald.stats().deadlines === 2, 'poll A collected the message')
    // Poll B arrives: A answers now, empty (its client may have given up on it), and B takes over.
    const pollB = lpPost(url, { pollId })
    const ra = await pollA
    assert.equal(ra.status, 200)
    assert.deepEqual(ra.lines, [], 'the displaced poll answers empty')
    // B took A's place with a message waiting, so it answers at once too.
    const rb = await pollB
    assert.equal(rb.status, 200)
    assert.deepEqual(dataOf(rb.lines).map((m) => m.message.n), [1], 'B carries what A had collected')
    await broadcast(a.url, { stream, data: '{"n":2}' })
    const rc = await lpPost(url, { pollId })
    assert.deepEqual(dataOf(rc.lines).map((m) => m.message.n), [2], 'nothing lost or repeated afterwards')
  } finally {
    await a.close()
  }
})

test('long poll: a body over --poll-max-request-size gets 413 and the session keeps working', async () => {
  const stream = 'lp/413'
  const first = await lpPost(lp, { body: subscribe(publicIdentifier(stream)) })
  const before413 = await metric(h.url, 'herald_errors_total', { code: 'HERALD_ERR_BODY_TOO_LARGE' })
  const big = await lpPost(lp, { pollId: first.pollId, body: subscribe('x'.repeat(70_000)) })
  assert.equal(big.status, 413)
  assert.equal(await metric(h.url, 'herald_errors_total', { code: 'HERALD_ERR_BODY_TOO_LARGE' }), before413 + 1)
  await broadcast(h.url, { stream, data: '{"ok":true}' })
  const next = await lpPost(lp, { pollId: first.pollId })
  assert.equal(next.status, 200)
  assert.deepEqual(dataOf(next.lines).map((m) => m.message), [{ ok: true }])
})

test('long poll: a session left idle past --poll-keepalive-timeout is closed; its next poll gets 401 session_expired', async () => {
  const a = await startHerald({ publicStreams: true, pollKeepaliveTimeout: 0.2, pollFlushInterval: 0 })
  try {
    const url = `${a.url}/lp`
    const first = await lpPost(url, { body: subscribe(publicIdentifier('lp/idle')) })
    assert.equal(first.status, 200)
    const stale = await metric(a.url, 'long_poll_stale_requests_total')
    await until(() => a.herald.stats().longPoll.sessions === 0, 'the idle session closed')
    const late = await lpPost(url, { pollId: first.pollId })
    assert.equal(late.status, 401)
    assert.deepEqual(late.lines, [{ type: 'disconnect', reason: 'session_expired', reconnect: false }])
    assert.equal(await metric(a.url, 'long_poll_stale_requests_total'), stale + 1)
    assert.equal(await metric(a.url, 'herald_disconnects_total', { reason: 'session_expired' }), 1)
    assert.deepEqual(holdings(a), NO_HOLDINGS)
    assert.equal(await metric(a.url, 'long_poll_clients_num'), 0)
  } finally {
    await a.close()
  }
})

test('long poll: queued messages count against --outbox-bytes; over it the session ends too_slow', async () => {
  const a = await startHerald({ publicStreams: true, outboxBytes: 4096 })
  try {
    const url = `${a.url}/lp`
    const stream = 'lp/budget'
    const first = await lpPost(url, { body: subscribe(publicIdentifier(stream)) })
    await broadcast(a.url, Array.from({ length: 40 }, (_, n) => ({ stream, data: JSON.stringify({ n, pad: 'x'.repeat(200) }) })))
    await until(() => a.herald.stats().connections.total === 0, 'the session ended')
    assert.equal(await metric(a.url, 'herald_disconnects_total', { reason: 'too_slow' }), 1)
    // The next poll hears the real reason, with a reconnect allowed (not 401 session_expired: the client would give up for good).
    const next = await lpPost(url, { pollId: first.pollId })
    assert.equal(next.status, 200)
    assert.deepEqual(next.lines, [{ type: 'disconnect', reason: 'too_slow', reconnect: true }])
    assert.deepEqual(holdings(a), NO_HOLDINGS)
  } finally {
    await a.close()
  }
})

test('long poll: a malformed command ends the session with invalid_command in the answer', async () => {
  const first = await lpPost(lp, {})
  const bad = await lpPost(lp, { pollId: first.pollId, body: '{"command":"nope"}\n' })
  assert.equal(bad.status, 200)
  assert.deepEqual(bad.lines.at(-1), { type: 'disconnect', reason: 'invalid_command', reconnect: false })
  const next = await lpPost(lp, { pollId: first.pollId })
  assert.deepEqual([next.status, next.lines], [200, [{ type: 'disconnect', reason: 'invalid_command', reconnect: false }]], 'the real reason again')
})

test('long poll: unknown poll id 401 (counted stale); 401 without a token under --jwt-secret', async () => {
  const stale = await metric(h.url, 'long_poll_stale_requests_total')
  const unknown = await lpPost(lp, { pollId: 'not-a-session' })
  assert.equal(unknown.status, 401)
  assert.equal(await metric(h.url, 'long_poll_stale_requests_total'), stale + 1)
  const a = await startHerald({ jwtSecret: 's3cret' })
  try {
    const denied = await lpPost(`${a.url}/lp`)
    assert.equal(denied.status, 401)
    assert.equal(denied.pollId, undefined)
    assert.deepEqual(denied.lines, [{ type: 'disconnect', reason: 'unauthorized', reconnect: false }])
    const ok = await lpPost(`${a.url}/lp?jid=${signJwt({}, 's3cret')}`)
    assert.equal(ok.status, 200)
    assert.equal(ok.lines[0].type, 'welcome')
  } finally {
    await a.close()
  }
})

test('long poll: CORS per --allowed-origins, the poll id exposed to scripts, preflight answered', async () => {
  const a = await startHerald({ allowedOrigins: 'https://app.example' })
  try {
    const url = `${a.url}/lp`
    const pre = await fetch(url, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-anycable-poll-id' } })
    assert.equal(pre.status, 204)
    assert.equal(pre.headers.get('access-control-allow-origin'), 'https://app.example')
    assert.match(pre.headers.get('access-control-allow-headers')!, /x-anycable-poll-id/)
    assert.match(pre.headers.get('access-control-allow-methods')!, /POST/)
    const ok = await lpPost(url, { headers: { origin: 'https://app.example' } })
    assert.equal(ok.status, 200)
    assert.equal(ok.headers.get('access-control-allow-origin'), 'https://app.example')
    assert.match(ok.headers.get('access-control-expose-headers')!, /x-anycable-poll-id/i)
    const other = await lpPost(url, { headers: { origin: 'https://evil.example' } }).catch(() => undefined)
    assert.equal(other?.status, 403)
  } finally {
    await a.close()
  }
})

test('long poll: clients that vanish mid-hold free everything they held (counted)', async () => {
  const a = await startHerald({ publicStreams: true, pollKeepaliveTimeout: 0.3 })
  try {
    const url = `${a.url}/lp`
    const base = holdings(a)
    assert.deepEqual(base, NO_HOLDINGS)
    const sessions = await Promise.all([1, 2, 3].map((n) => lpPost(url, { body: subscribe(publicIdentifier(`lp/gone/${n}`)) })))
    const aborts = sessions.map(() => new AbortController())
    const held = sessions.map((s, i) => lpPost(url, { pollId: s.pollId, signal: aborts[i].signal }).catch(() => 'aborted'))
    await until(() => holdings(a).heldLongPolls === 3, 'three polls held')
    assert.equal(holdings(a).subscriptions, 3)
    for (const c of aborts) c.abort()
    assert.deepEqual(await Promise.all(held), ['aborted', 'aborted', 'aborted'])
    await until(() => holdings(a).heldLongPolls === 0, 'holds released')
    await until(() => holdings(a).connections === 0, 'sessions expired')
    assert.deepEqual(holdings(a), NO_HOLDINGS)
  } finally {
    await a.close()
  }
})

test('long poll: a poll that displaced another is held for the poll interval, not expired by the keepalive clock', async () => {
  const a = await startHerald({ publicStreams: true, pollInterval: 30, pollKeepaliveTimeout: 0.2 })
  try {
    const url = `${a.url}/lp`
    const stream = 'lp/displaced'
    const first = await lpPost(url, { body: subscribe(publicIdentifier(stream)) })
    const pollA = lpPost(url, { pollId: first.pollId })
    await until(() => a.herald.stats().longPoll.heldPolls === 1, 'poll A held')
    const pollB = lpPost(url, { pollId: first.pollId })
    assert.equal((await pollA).status, 200)
    await until(() => a.herald.stats().longPoll.heldPolls === 1, 'poll B held')
    assert.equal(holdings(a).deadlines, 1, 'only poll B\'s hold deadline; no keepalive clock while it is held')
    // Longer than the keepalive timeout: B must still be held, then answer with what comes.
    await sleep(500)
    assert.equal(a.herald.stats().longPoll.sessions, 1)
    await broadcast(a.url, { stream, data: '{"still":"here"}' })
    const rb = await pollB
    assert.equal(rb.status, 200)
    assert.deepEqual(dataOf(rb.lines).map((m) => m.message), [{ still: 'here' }])
  } finally {
    await a.close()
  }
})
