import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import fc from 'fast-check'
import { startHerald, type TestHerald } from '../support/herald.js'
import { metric } from '../support/util.js'
import { anyText, RUNS } from './settings.js'

// Long-poll bodies (JSON Lines, POST /lp) of any shape against a real Herald: every poll gets a
// defined answer (200 with JSON Lines, 400 or 413 with a coded error), never a 500, and the
// server keeps answering. Fewer runs than the pure properties: each is a round trip.

let h: TestHerald
before(async () => { h = await startHerald({ publicStreams: true, pollMaxRequestSize: 8192, maxSubscriptions: 20 }) })
after(() => h.close())

const line = fc.oneof(
  fc.string({ maxLength: 20 }).map((s) => JSON.stringify({ command: 'subscribe', identifier: JSON.stringify({ channel: '$pubsub', stream_name: s }) })),
  fc.record({ command: fc.constantFrom('subscribe', 'unsubscribe', 'history', 'ping', 'pong', 'message', 'whisper', 'x'), identifier: fc.oneof(fc.string({ maxLength: 30 }), fc.jsonValue({ maxDepth: 2 })), data: fc.jsonValue({ maxDepth: 2 }), history: fc.jsonValue({ maxDepth: 3 }) }, { requiredKeys: [] }).map((o) => JSON.stringify(o)),
  anyText(40),
  fc.integer({ min: 60, max: 3000 }).map((d) => '['.repeat(d)),
)
const body = fc.tuple(fc.array(line, { maxLength: 8 }), fc.constantFrom('\n', '\r\n')).map(([lines, eol]) => lines.join(eol))

test('POST /lp with any body, first poll or a later one: 200 JSON Lines, or 400/413 with an error code; never a 500', async () => {
  const first = await fetch(`${h.url}/lp`, { method: 'POST', body: '' })
  const pollId = first.headers.get('x-anycable-poll-id')!
  await first.text()
  await fc.assert(fc.asyncProperty(body, fc.boolean(), async (text, later) => {
    const res = await fetch(`${h.url}/lp`, { method: 'POST', body: text, headers: later ? { 'x-anycable-poll-id': pollId } : {} })
    const answer = await res.text()
    assert.ok([200, 400, 401, 413].includes(res.status), `${res.status} ${answer.slice(0, 200)}`)
    const lines = answer.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l))
    if (res.status === 400 || res.status === 413) assert.match(lines[0].error.code, /^HERALD_ERR_/)
    if (res.status === 401) assert.equal(lines[0].type, 'disconnect')
  }), { ...RUNS, numRuns: 60 })
  assert.equal(await metric(h.url, 'herald_errors_total', { code: 'HERALD_ERR_INTERNAL' }), 0)
  assert.equal((await fetch(`${h.url}/health`)).status, 200)
})
