import assert from 'node:assert/strict'
import { once } from 'node:events'
import http2 from 'node:http2'
import net from 'node:net'
import { after, before, test } from 'node:test'
import { observe } from '../../src/index.js'
import { startHerald, type TestHerald } from '../support/herald.js'
import { RawWebSocket } from '../support/raw-ws.js'
import { until, within } from '../support/util.js'
import { publicId, publishUntil } from '../support/wire.js'
import { disconnects, errors, stillServes } from './serves.js'

// Readers that stop reading, on raw sockets and with odd HTTP/2 settings: each is cut too_slow
// once its --outbox-bytes budget is spent (counted), and the server goes on serving.

const BUDGET = 64 * 1024
let h: TestHerald
before(async () => { h = await startHerald({ publicStreams: true, outboxBytes: BUDGET }) })
after(() => h.close())

/** Whether a connection has been cut too_slow since this was called (a paused socket never sees its own end). */
function cutTooSlow(): { done: () => boolean; stop: () => void } {
  let cut = false
  const stop = observe(h.herald.diagnostics, { connectionClose: (e) => { if (e.reason.reason === 'too_slow') cut = true } })
  return { done: () => cut, stop }
}

const tooSlow = async () => [await disconnects(h, 'too_slow'), await errors(h, 'HERALD_ERR_TOO_SLOW')]

test('a WebSocket on a raw socket that subscribes and never reads again: cut too_slow', async () => {
  const before = await tooSlow()
  const ws = await RawWebSocket.open(h.url)
  await ws.waitFor((m) => m.type === 'welcome', 'welcome')
  ws.frame(0x1, JSON.stringify({ command: 'subscribe', identifier: publicId('slow/ws') }))
  await ws.waitFor((m) => m.type === 'confirm_subscription', 'confirmation')
  ws.socket.pause()
  const cut = cutTooSlow()
  await publishUntil(h, 'slow/ws', cut.done, 'the reader cut')
  cut.stop()
  ws.destroy()
  assert.deepEqual(await tooSlow(), [before[0] + 1, before[1] + 1])
  await stillServes(h)
})

test('an SSE reader on a raw socket that never reads: cut too_slow', async () => {
  const before = await tooSlow()
  const { port } = new URL(h.url)
  const s = net.connect(Number(port), '127.0.0.1')
  s.on('error', () => {})
  await once(s, 'connect')
  s.write(`GET /events?stream=slow%2Fsse HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`)
  const [first] = (await within(once(s, 'data'), 5000, 'the SSE head')) as [Buffer]
  assert.match(first.toString('latin1'), /^HTTP\/1\.1 200/)
  s.pause()
  const cut = cutTooSlow()
  await publishUntil(h, 'slow/sse', cut.done, 'the reader cut')
  cut.stop()
  s.destroy()
  assert.deepEqual(await tooSlow(), [before[0] + 1, before[1] + 1])
  await stillServes(h)
})

test('an HTTP/2 client that grants no flow-control window (SETTINGS_INITIAL_WINDOW_SIZE 0): its SSE stream is cut too_slow', async () => {
  const before = await tooSlow()
  const session = http2.connect(h.url, { settings: { initialWindowSize: 0 } })
  session.on('error', () => {})
  try {
    const stream = session.request({ ':path': '/events?stream=slow%2Fh2' })
    stream.on('error', () => {})
    const [headers] = (await within(once(stream, 'response'), 5000, 'the SSE response')) as [http2.IncomingHttpHeaders]
    assert.equal(headers[':status'], 200)
    await publishUntil(h, 'slow/h2', () => stream.closed, 'the stream cut')
    await until(async () => (await disconnects(h, 'too_slow')) > before[0], 'too_slow counted')
    assert.deepEqual(await tooSlow(), [before[0] + 1, before[1] + 1])
  } finally {
    session.destroy()
  }
  await stillServes(h)
})
