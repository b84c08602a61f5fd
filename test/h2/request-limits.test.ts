import assert from 'node:assert/strict'
import { once } from 'node:events'
import { constants, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2'
import { test } from 'node:test'
import { observe, type HttpRequestSeen } from '../../src/observability/diagnostics.js'
import { openSocket } from '../support/clients.js'
import { connectH2 } from '../support/h2.js'
import { startHerald } from '../support/herald.js'
import { metric, until } from '../support/util.js'

// Issue #13, "HTTP/2 has no stream limit and no request timeout": SETTINGS_MAX_CONCURRENT_STREAMS
// (--h2-max-streams, 128 by default) and --request-timeout for h2 request bodies, with WebSocket
// streams (immortal, http/immortal.ts) exempt.

/** Starts a POST whose body is never finished; resolves once its headers are out. */
function unfinishedPost(session: ClientHttp2Session, path = '/jobs'): ClientHttp2Stream {
  const stream = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/json' })
  stream.on('error', () => { /* reset by the server or at the end of the test */ })
  stream.write('{"type":')
  return stream
}

test('h2c: SETTINGS_MAX_CONCURRENT_STREAMS is advertised (default 128); 220 unfinished POSTs on one connection reach the server 128 at a time', async () => {
  const h = await startHerald()
  const seen: string[] = []
  const stop = observe(h.herald.diagnostics, { httpRequest: (e: HttpRequestSeen) => { if (e.httpVersion === '2.0') seen.push(e.path) } })
  const session = await connectH2(h.url)
  try {
    await until(() => session.remoteSettings.maxConcurrentStreams === 128, 'the server settings')
    const streams = Array.from({ length: 220 }, () => unfinishedPost(session))
    await until(() => seen.length >= 128, '128 requests at the server')
    await new Promise((r) => setTimeout(r, 300))
    assert.equal(seen.length, 128, 'no more than the advertised limit at once')
    // Ending some makes room for as many more.
    for (const s of streams.slice(0, 10)) s.close(constants.NGHTTP2_CANCEL)
    await until(() => seen.length === 138, '10 more once 10 ended')
    await new Promise((r) => setTimeout(r, 200))
    assert.equal(seen.length, 138)
  } finally {
    stop()
    session.destroy()
    await h.close()
  }
  const small = await startHerald({ h2MaxStreams: 16 })
  const s2 = await connectH2(small.url)
  try {
    await until(() => s2.remoteSettings.maxConcurrentStreams === 16, '--h2-max-streams 16 advertised')
  } finally {
    s2.destroy()
    await small.close()
  }
})

test('h2c: a body trickled past --request-timeout gets 408 (counted, logged); one answered already is reset; a WebSocket stream lives on', async () => {
  const h = await startHerald({ requestTimeout: 0.5, headersTimeout: 0.5 })
  // A route that answers before it reads the body, for the reset case.
  h.herald.router.add('POST', '/test-answers-early', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' })
    ;(res as { write(chunk: string): boolean }).write('started\n')
  })
  const session = await connectH2(h.url)
  const ws = await openSocket('2', h.url)
  try {
    await ws.waitForType('welcome')
    const started = Date.now()
    const slow = unfinishedPost(session)
    const trickle = setInterval(() => { if (!slow.closed) slow.write(' ') }, 100)
    const [headers] = await once(slow, 'response')
    clearInterval(trickle)
    assert.equal(headers[':status'], 408)
    const elapsed = Date.now() - started
    assert.ok(elapsed >= 450 && elapsed < 3000, `408 after ${elapsed} ms`)
    let body = ''
    slow.setEncoding('utf8')
    slow.on('data', (chunk) => { body += chunk })
    await once(slow, 'close')
    assert.equal(JSON.parse(body).error.code, 'HERALD_ERR_REQUEST_TIMEOUT')

    const early = unfinishedPost(session, '/test-answers-early')
    const [earlyHeaders] = await once(early, 'response')
    assert.equal(earlyHeaders[':status'], 200)
    await once(early, 'close')
    assert.equal(early.rstCode, constants.NGHTTP2_CANCEL, 'reset once the answer had begun')

    assert.equal(await metric(h.url, 'herald_h2_timeouts_total', { kind: 'request' }), 2)
    // The WebSocket's CONNECT stream never ends its request side: it outlived the timeout twice over.
    assert.ok(Date.now() - started > 1000)
    ws.send({ command: 'subscribe', identifier: JSON.stringify({ channel: '$pubsub', stream_name: 'x' }) })
    await ws.waitFor((m) => m.type === 'confirm_subscription' || m.type === 'reject_subscription')
    // The connection itself serves on.
    const health = session.request({ ':path': '/health' })
    const [ok] = await once(health, 'response')
    assert.equal(ok[':status'], 200)
    health.resume()
  } finally {
    ws.close()
    session.destroy()
    await h.close()
  }
})
