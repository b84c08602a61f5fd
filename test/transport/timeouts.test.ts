import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, test } from 'node:test'
import { handleRequest, HTTP1_TIMEOUTS } from '../../src/server/http-server.js'
import { startHerald, type TestHerald } from '../support/herald.js'
import { broadcast } from '../support/util.js'
import { lpPost, StreamReader } from './http-clients.js'

/**
 * node-platform-notes §3 at a smaller scale: Herald's request handling on a server with HTTP1_TIMEOUTS'
 * shape (requestTimeout short, server.timeout 0) and the check interval shortened so requestTimeout
 * bites within the test. Held responses must outlive requestTimeout; a slow request body must not.
 */
let h: TestHerald
let server: http.Server
let base: string
const REQUEST_TIMEOUT = 300
before(async () => {
  h = await startHerald({ publicStreams: true, pollInterval: 1, pollFlushInterval: 0 })
  const deps = { hub: h.herald.hub, router: h.herald.router, ws: h.herald.ws }
  server = http.createServer({ requestTimeout: REQUEST_TIMEOUT, headersTimeout: 200, connectionsCheckingInterval: 50 }, (req, res) => void handleRequest(deps, req, res))
  server.keepAliveTimeout = HTTP1_TIMEOUTS.keepAliveTimeout
  server.timeout = HTTP1_TIMEOUTS.timeout
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
after(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
  await h.close()
})

test('HTTP1_TIMEOUTS: the socket inactivity timeout is off and requestTimeout is finite (slow clients are still cut)', () => {
  assert.equal(HTTP1_TIMEOUTS.timeout, 0)
  assert.ok(HTTP1_TIMEOUTS.requestTimeout > 0 && HTTP1_TIMEOUTS.headersTimeout > 0 && HTTP1_TIMEOUTS.keepAliveTimeout > 0)
})

test('a silent SSE response held past requestTimeout is not cut and still delivers', async () => {
  const r = await StreamReader.sse(`${base}/events?stream=t/sse`)
  assert.equal(r.status, 200)
  await sleep(REQUEST_TIMEOUT * 3)
  assert.equal(r.ended, false)
  await broadcast(h.url, { stream: 't/sse', data: '{"late":true}' })
  await r.waitFor(() => r.data.length === 1, 'the late message')
  assert.deepEqual(r.data, [{ late: true }])
  r.destroy()
})

test('a long poll held past requestTimeout is answered by Herald (200), not by the server (408)', async () => {
  const first = await lpPost(`${base}/lp`)
  const held = await lpPost(`${base}/lp`, { pollId: first.pollId })
  assert.equal(held.status, 200)
})

test('a request body slower than requestTimeout is still cut with 408', async () => {
  const status = await new Promise<number>((resolve, reject) => {
    const req = http.request(`${base}/lp`, { method: 'POST', headers: { 'transfer-encoding': 'chunked' } }, (res) => { resolve(res.statusCode ?? 0); res.resume() })
    req.on('error', reject)
    req.write('{"command":')
    // …and the rest never comes.
  })
  assert.equal(status, 408)
})
