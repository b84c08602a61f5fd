import assert from 'node:assert/strict'
import { once } from 'node:events'
import http from 'node:http'
import net from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, test } from 'node:test'
import { startHerald, type TestHerald } from '../support/herald.js'
import { broadcast, within } from '../support/util.js'
import { lpPost, StreamReader } from './http-clients.js'

/**
 * docs/node-notes.md §3 at a smaller scale, on Herald's own listener: requestTimeout and
 * headersTimeout short (--request-timeout, --headers-timeout), so they bite within the test.
 * Held responses must outlive requestTimeout; a slow request body must not.
 */
let h: TestHerald
let base: string
const REQUEST_TIMEOUT = 300
before(async () => {
  h = await startHerald({ publicStreams: true, pollInterval: 1, pollFlushInterval: 0, requestTimeout: REQUEST_TIMEOUT / 1000, headersTimeout: 0.2 })
  base = h.url
})
after(async () => {
  await h.close()
})

test('a silent SSE response held past requestTimeout is not cut and still delivers', async () => {
  const r = await StreamReader.sse(`${base}/events?stream=t/sse`)
  assert.equal(r.status, 200)
  await sleep(REQUEST_TIMEOUT * 3)
  assert.equal(r.ended, false)
  await broadcast(base, { stream: 't/sse', data: '{"late":true}' })
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
  const status = await within(new Promise<number>((resolve, reject) => {
    const req = http.request(`${base}/lp`, { method: 'POST', headers: { 'transfer-encoding': 'chunked' } }, (res) => { resolve(res.statusCode ?? 0); res.resume() })
    req.on('error', reject)
    req.write('{"command":')
    // …and the rest never comes.
  }), 10_000, 'the server to answer the unfinished body')
  assert.equal(status, 408)
})

test('request headers slower than --headers-timeout are cut with 408', async () => {
  const socket = net.connect(Number(new URL(base).port), '127.0.0.1')
  let answer = ''
  socket.setEncoding('latin1').on('data', (d: string) => (answer += d))
  await once(socket, 'connect')
  socket.write('GET /health HTTP/1.1\r\nHost: x\r\n') // …and the blank line never comes
  await within(once(socket, 'close'), 10_000, 'the server to close the connection')
  assert.match(answer, /^HTTP\/1\.1 408 /)
})

test('an idle keep-alive connection is closed after --keep-alive-timeout', async () => {
  const k = await startHerald({ keepAliveTimeout: 0.2 })
  try {
    const socket = net.connect(Number(new URL(k.url).port), '127.0.0.1')
    let answer = ''
    socket.setEncoding('latin1').on('data', (d: string) => (answer += d))
    await once(socket, 'connect')
    socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n')
    // The server, not the client, ends the idle connection once the answer is out.
    await within(once(socket, 'end'), 10_000, 'the server to end the idle connection')
    assert.match(answer, /^HTTP\/1\.1 200 /)
    socket.destroy()
  } finally {
    await k.close()
  }
})
