import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { startHerald, type TestHerald } from '../support/herald.js'
import { broadcast, until } from '../support/util.js'
import { publicId, subscribeLine } from '../support/wire.js'
import { holdings, lpPost, NO_HOLDINGS } from '../transport/http-clients.js'
import { disconnects, errors, stillServes } from './serves.js'

// Hostile long-poll bodies (JSON Lines, POST /lp) against a real Herald: a bad line ends the
// session with invalid_command in the answer, a body over --poll-max-request-size is 413 and the
// session keeps working, and a session cut between polls tells its next poll the real reason.

const MAX_REQUEST = 4096
let h: TestHerald
let lp: string
before(async () => {
  h = await startHerald({ publicStreams: true, pollMaxRequestSize: MAX_REQUEST, maxSubscriptions: 10, pollFlushInterval: 0.02 })
  lp = `${h.url}/lp`
})
after(() => h.close())

const INVALID_COMMAND = { type: 'disconnect', reason: 'invalid_command', reconnect: false }

describe('bad lines: the session ends invalid_command, said in the answer and to the next poll', () => {
  const LINES: { name: string; body: string }[] = [
    { name: 'a line that is not JSON', body: '{"command":"subscribe"' },
    { name: 'a good line, then an unknown command', body: `${subscribeLine(publicId('lp/ok'))}\n{"command":"launch"}` },
    { name: 'JSON nested 3,000 levels (unclosed: refused before parsing)', body: `{"command":"ping","x":${'['.repeat(3000)}}` },
    { name: 'a JSON array line', body: '[1,2,3]' },
    { name: 'CRLF lines with a bad one last', body: `{"command":"ping"}\r\n"just a string"\r\n` },
  ]
  for (const l of LINES) {
    test(l.name, async () => {
      const [errs, ends] = [await errors(h, 'HERALD_ERR_BAD_COMMAND'), await disconnects(h, 'invalid_command')]
      const first = await lpPost(lp, {})
      assert.equal(first.status, 200)
      const bad = await lpPost(lp, { pollId: first.pollId, body: l.body })
      assert.equal(bad.status, 200)
      assert.deepEqual(bad.lines.at(-1), INVALID_COMMAND)
      const next = await lpPost(lp, { pollId: first.pollId })
      assert.deepEqual([next.status, next.lines], [200, [INVALID_COMMAND]])
      assert.equal(await errors(h, 'HERALD_ERR_BAD_COMMAND'), errs + 1)
      assert.equal(await disconnects(h, 'invalid_command'), ends + 1)
      await stillServes(h)
    })
  }
})

describe('bodies', () => {
  test(`a poll body over --poll-max-request-size (${MAX_REQUEST}): 413, and the session keeps working`, async () => {
    const before = await errors(h, 'HERALD_ERR_BODY_TOO_LARGE')
    const first = await lpPost(lp, { body: subscribeLine(publicId('lp/big')) })
    const big = await lpPost(lp, { pollId: first.pollId, body: `{"command":"ping","pad":"${'x'.repeat(MAX_REQUEST)}"}` })
    assert.equal(big.status, 413)
    assert.equal(big.lines[0].error.code, 'HERALD_ERR_BODY_TOO_LARGE')
    assert.equal(await errors(h, 'HERALD_ERR_BODY_TOO_LARGE'), before + 1)
    await broadcast(h.url, { stream: 'lp/big', data: '{"n":1}' })
    const next = await lpPost(lp, { pollId: first.pollId })
    assert.equal(next.status, 200)
    assert.deepEqual(next.lines.filter((m) => m.message).map((m) => m.message.n), [1])
  })

  test('a first body over the limit opens no session', async () => {
    const sessions = h.herald.stats().connections.total
    const big = await lpPost(lp, { body: 'x'.repeat(MAX_REQUEST + 1) })
    assert.equal(big.status, 413)
    assert.equal(big.pollId, undefined)
    assert.equal(h.herald.stats().connections.total, sessions)
  })

  test('a body that is not UTF-8: 400', async () => {
    const res = await fetch(lp, { method: 'POST', body: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) })
    assert.equal(res.status, 400)
    assert.equal((await res.json()).error.code, 'HERALD_ERR_INVALID_UTF8')
  })

  test('more subscribe lines than --max-subscriptions: the extra ones are rejected with the reason', async () => {
    const body = Array.from({ length: 15 }, (_, i) => subscribeLine(JSON.stringify({ channel: '$pubsub', stream_name: 'lp/many', i }))).join('\n')
    const first = await lpPost(lp, { body })
    assert.equal(first.status, 200)
    const rejected = first.lines.filter((m) => m.type === 'reject_subscription')
    assert.equal(rejected.length, 5)
    for (const r of rejected) assert.match(r.reason, /--max-subscriptions/)
    assert.equal(first.lines.filter((m) => m.type === 'confirm_subscription').length, 10)
  })

  test('a poll id nobody issued (long, odd characters): 401 session_expired', async () => {
    for (const pollId of ['x'.repeat(4000), '../../etc/passwd', '\u00ff\u00fe']) {
      const res = await lpPost(lp, { pollId })
      assert.equal(res.status, 401)
      assert.deepEqual(res.lines, [{ type: 'disconnect', reason: 'session_expired', reconnect: false }])
    }
    await stillServes(h)
  })
})

test('a session cut too_slow between polls: the next poll hears too_slow with a reconnect, not session_expired', async () => {
  const s = await startHerald({ publicStreams: true, outboxBytes: 4096 })
  try {
    const url = `${s.url}/lp`
    const first = await lpPost(url, { body: subscribeLine(publicId('lp/slow')) })
    await broadcast(s.url, Array.from({ length: 40 }, (_, n) => ({ stream: 'lp/slow', data: JSON.stringify({ n, pad: 'x'.repeat(200) }) })))
    await until(() => s.herald.stats().connections.total === 0, 'the session cut')
    assert.equal(await disconnects(s, 'too_slow'), 1)
    assert.equal(await errors(s, 'HERALD_ERR_TOO_SLOW'), 1)
    const next = await lpPost(url, { pollId: first.pollId })
    assert.deepEqual([next.status, next.lines], [200, [{ type: 'disconnect', reason: 'too_slow', reconnect: true }]])
    assert.deepEqual(holdings(s), NO_HOLDINGS)
    await stillServes(s)
  } finally {
    await s.close()
  }
})
