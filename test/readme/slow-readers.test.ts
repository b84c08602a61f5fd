import assert from 'node:assert/strict'
import { once } from 'node:events'
import http from 'node:http'
import type { IncomingHttpHeaders } from 'node:http2'
import { test } from 'node:test'
import { exchange, HTTP_VERSIONS, type HttpVersion } from '../support/clients.js'
import { connectH2 } from '../support/h2.js'
import { startHerald, type TestHerald } from '../support/herald.js'
import { TcpRelay } from '../support/relay.js'
import { metric, until, within } from '../support/util.js'
import { publicId, publishUntil, subscribeLine } from '../support/wire.js'

// README: every transport has the same --outbox-bytes budget as the WebSocket, whose table says
// a reader behind it is "disconnected, reason too_slow". Here for SSE and NDJSON (a reader that
// stops reading, behind a relay that stalls) next to a reader on the same stream that keeps up,
// and for long polling (a session that stops polling), each over HTTP/1.1 and HTTP/2.

const BUDGET = 256 * 1024
const STREAM = 'slow/firehose'

interface Reader {
  /** Every `"n":<i>` the reader has received so far, in order. */
  numbers(): number[]
  close(): void
}

/** Opens a long response and keeps reading it; resolves once its 200 has arrived. */
async function openReader(version: HttpVersion, base: string, req: { method?: string; path: string; body?: string }): Promise<Reader> {
  const chunks: string[] = []
  const numbers = () => [...chunks.join('').matchAll(/"n":(\d+)/g)].map((m) => Number(m[1]))
  if (version === '1.1') {
    const r = http.request(`${base}${req.path}`, { method: req.method ?? 'GET', agent: false })
    r.on('error', () => {})
    r.end(req.body)
    const [res] = (await within(once(r, 'response'), 10_000, `${req.path} response`)) as [http.IncomingMessage]
    assert.equal(res.statusCode, 200)
    res.setEncoding('utf8').on('data', (c: string) => chunks.push(c)).on('error', () => {})
    return { numbers, close: () => r.destroy() }
  }
  // A browser-sized window (Chrome's is 6 MiB per stream): Node's 64 KiB would make the steady
  // reader fall behind a firehose by design, not by being slow.
  const session = await connectH2(base, { windowBytes: 8 * 1024 * 1024 })
  const stream = session.request({ ':method': req.method ?? 'GET', ':path': req.path }, { endStream: req.body === undefined })
  stream.on('error', () => {})
  if (req.body !== undefined) stream.end(req.body)
  const [headers] = (await within(once(stream, 'response'), 10_000, `${req.path} response`)) as [IncomingHttpHeaders]
  assert.equal(headers[':status'], 200)
  stream.setEncoding('utf8').on('data', (c: string) => chunks.push(c))
  return { numbers, close: () => session.destroy() }
}

const STREAMING: { name: string; request: { method?: string; path: string; body?: string } }[] = [
  { name: 'SSE GET /events', request: { path: `/events?stream=${encodeURIComponent(STREAM)}` } },
  { name: 'SSE POST /events', request: { method: 'POST', path: '/events', body: subscribeLine(publicId(STREAM)) } },
  { name: 'NDJSON GET /stream', request: { path: `/stream?stream=${encodeURIComponent(STREAM)}` } },
]

const tooSlow = async (h: TestHerald) => [
  await metric(h.url, 'herald_disconnects_total', { reason: 'too_slow' }),
  await metric(h.url, 'herald_errors_total', { code: 'HERALD_ERR_TOO_SLOW' }),
]

for (const t of STREAMING) {
  for (const version of HTTP_VERSIONS) {
    test(`${t.name} over HTTP/${version}: a reader that stops reading is cut too_slow; one that keeps up gets every message in order`, async () => {
      const h = await startHerald({ publicStreams: true, outboxBytes: BUDGET, pingInterval: 0 })
      const relay = await TcpRelay.to(h.url)
      try {
        const steady = await openReader(version, h.url, t.request)
        const slow = await openReader(version, relay.url, t.request)
        await until(() => h.herald.subscriberCount(STREAM) === 2, 'both readers subscribed')
        const before = await tooSlow(h)
        relay.stall()
        // 32 KiB a turn: a rate a reader that keeps up takes over HTTP/2 too, where a response's
        // bytes count against the budget until its stream has written them out.
        const published = await publishUntil(h, STREAM, () => h.herald.subscriberCount(STREAM) < 2, 'the server to cut a reader', 2)
        assert.equal(h.herald.subscriberCount(STREAM), 1, 'the steady reader is still subscribed')
        assert.deepEqual(await tooSlow(h), [before[0] + 1, before[1] + 1], 'one too_slow disconnect, counted once')
        const all = Array.from({ length: published }, (_, i) => i + 1)
        await until(() => steady.numbers().length >= published, `the steady reader's ${published} messages`, 30_000)
        assert.deepEqual(steady.numbers(), all)
        steady.close()
        slow.close()
      } finally {
        relay.close()
        await h.close()
      }
    })
  }
}

for (const version of HTTP_VERSIONS) {
  test(`long poll over HTTP/${version}: a session that stops polling is cut too_slow once its queue passes the budget; its next poll hears too_slow (reconnect allowed)`, async () => {
    const h = await startHerald({ publicStreams: true, outboxBytes: BUDGET })
    try {
      const first = await exchange(version, h.url, { method: 'POST', path: '/lp', body: subscribeLine(publicId(STREAM)) })
      assert.equal(first.status, 200)
      const pollId = String(first.headers['x-anycable-poll-id'])
      const before = await tooSlow(h)
      await publishUntil(h, STREAM, () => h.herald.stats().connections.total === 0, 'the server to end the session')
      assert.deepEqual(await tooSlow(h), [before[0] + 1, before[1] + 1], 'one too_slow disconnect, counted once')
      const next = await exchange(version, h.url, { method: 'POST', path: '/lp', headers: { 'x-anycable-poll-id': pollId } })
      assert.equal(next.status, 200)
      assert.deepEqual(JSON.parse(String(next.body).trim()), { type: 'disconnect', reason: 'too_slow', reconnect: true })
      assert.equal(h.herald.stats().longPoll.sessions, 0)
    } finally {
      await h.close()
    }
  })
}
