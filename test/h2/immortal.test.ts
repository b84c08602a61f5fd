import assert from 'node:assert/strict'
import { once } from 'node:events'
import http2, { type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2'
import { after, before, test } from 'node:test'
import { streamLongPollRxOnly } from '../../src/tools/h2-long-poll.js'
import { makeImmortal } from '../../src/http/immortal.js'
import { readBody } from '../../src/http/body.js'
import { connectH2, curl, FreezableProxy } from '../support/h2.js'
import { startHerald, type TestHerald } from '../support/herald.js'
import { makeSelfSignedCert, type TestCert } from '../support/tls.js'
import { metric, until } from '../support/util.js'

// Idle timeouts of 0.5 s; the test route is silent for 1 s between lines, so a stream that
// receives all its lines outlived the stream and session idle timeouts several times over.
// (Not shorter: a loaded machine must not stall past an idle timeout before a request is read.)
const IDLE = 0.5
const GAP_MS = 1000

let h: TestHerald
let cert: TestCert
let immortalUrl: string // cleartext, h2-half-closed-long-poll
let plainUrl: string // cleartext, without the option
let tlsUrl: string // TLS, with the option
const serverClosed: string[] = []

before(async () => {
  cert = makeSelfSignedCert()
  h = await startHerald({
    pingInterval: 0,
    h2HalfClosedLongPoll: true,
    h2IdleTimeout: IDLE,
    h2PingInterval: 0.2,
    h2PingTimeout: 1, // generous: a loaded machine must not look like a dead peer
    listeners: [
      { name: 'plain', port: 0, h2HalfClosedLongPoll: false },
      { name: 'tls', port: 0, tlsCert: cert.cert, tlsKey: cert.key, h2HalfClosedLongPoll: true },
    ],
  })
  ;[immortalUrl, plainUrl, tlsUrl] = h.herald.listeners.map((l) => l.url)
  // A tiny streaming route: "start", then `n` lines `gap` ms apart, then the end.
  const ticks = async (req: any, res: any, _p: unknown, url: URL) => {
    if (req.method === 'POST') await readBody(req, 1024)
    makeImmortal(req)
    const n = Number(url.searchParams.get('n') ?? 3)
    const gap = Number(url.searchParams.get('gap') ?? GAP_MS)
    const id = url.searchParams.get('id') ?? ''
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.write('start\n')
    let i = 0
    const timer = setInterval(() => {
      res.write(`tick ${++i}\n`)
      if (i === n) {
        clearInterval(timer)
        res.end()
      }
    }, gap)
    res.on('close', () => {
      clearInterval(timer)
      serverClosed.push(id)
    })
  }
  h.herald.router.add('GET', '/test/ticks', ticks)
  h.herald.router.add('POST', '/test/ticks', ticks)
})
after(async () => {
  await h.close()
  cert.remove()
})

interface Outcome {
  body: string
  rstCode: number
  aborted: boolean
}

function collect(stream: ClientHttp2Stream): Promise<Outcome> {
  return new Promise((resolve) => {
    let body = ''
    let aborted = false
    stream.setEncoding('utf8')
    stream.on('data', (c: string) => (body += c))
    stream.on('aborted', () => (aborted = true))
    stream.on('error', () => (aborted = true))
    stream.on('close', () => resolve({ body, rstCode: stream.rstCode ?? 0, aborted }))
  })
}

const lines = (o: Outcome) => o.body.split('\n').filter(Boolean)
const timeouts = (kind: 'stream' | 'session' | 'ping') => metric(h.url, 'herald_h2_timeouts_total', { kind })
/** curl's exit code when the response ends before its body did (here: the stream reset with CANCEL). */
const CURLE_PARTIAL_FILE = 18

test('a half-closed GET outlives the stream and session idle timeouts and keeps receiving', async () => {
  const session = await connectH2(immortalUrl)
  const out = await collect(session.request({ ':path': '/test/ticks?n=2' }))
  assert.deepEqual(lines(out), ['start', 'tick 1', 'tick 2'])
  assert.equal(out.rstCode, http2.constants.NGHTTP2_NO_ERROR)
  assert.equal(out.aborted, false)
  session.close()
})

test('the same request on a listener without the option is cut at the idle timeout (counted as a stream timeout)', async () => {
  const before = await timeouts('stream')
  const session = await connectH2(plainUrl)
  const out = await collect(session.request({ ':path': '/test/ticks?n=2' }))
  assert.deepEqual(lines(out), ['start'])
  assert.equal(out.rstCode, http2.constants.NGHTTP2_CANCEL, 'the stream is reset, not ended')
  assert.equal(await timeouts('stream'), before + 1)
  session.destroy()
})

test('a POST becomes immortal after its body', async () => {
  const session = await connectH2(immortalUrl)
  const stream = session.request({ ':method': 'POST', ':path': '/test/ticks?n=2' }, { endStream: false })
  stream.end('{"hello":1}')
  const out = await collect(stream)
  assert.deepEqual(lines(out), ['start', 'tick 1', 'tick 2'])
  session.close()
})

test('streamLongPollRxOnly: an empty DATA frame with END_STREAM makes an open stream immortal; one left open is cut', async () => {
  const session = await connectH2(immortalUrl)
  const open = session.request({ ':path': '/test/ticks?n=2' }, { endStream: false })
  const rxonly = session.request({ ':path': '/test/ticks?n=2' }, { endStream: false })
  await once(rxonly, 'response')
  streamLongPollRxOnly(rxonly)
  assert.equal(rxonly.writableEnded, true)
  const [cut, kept] = await Promise.all([collect(open), collect(rxonly)])
  assert.deepEqual(lines(kept), ['start', 'tick 1', 'tick 2'])
  assert.deepEqual(lines(cut), ['start'], 'a stream the client never half-closed keeps its idle timeout')
  assert.equal(cut.rstCode, http2.constants.NGHTTP2_CANCEL)
  session.destroy()
})

test('TLS with ALPN h2: curl --http2 and Node\'s client stay connected past the timeouts', async () => {
  const session = await connectH2(tlsUrl)
  assert.equal((session.socket as any).alpnProtocol, 'h2')
  // The request goes out at once: the connection is not immortal before it.
  const node = collect(session.request({ ':path': '/test/ticks?n=2' }))
  const [r, out] = await Promise.all([curl(['-k', '--http2', '-w', '%{http_version}', `${tlsUrl}/test/ticks?n=2`]), node])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout, 'start\ntick 1\ntick 2\n2')
  assert.deepEqual(lines(out), ['start', 'tick 1', 'tick 2'])
  session.close()
})

test('curl --http2-prior-knowledge: kept on the option listener, cut on the plain one', async () => {
  const [kept, cut] = await Promise.all([
    curl(['--http2-prior-knowledge', '-w', '%{http_version}', `${immortalUrl}/test/ticks?n=2`]),
    curl(['--http2-prior-knowledge', `${plainUrl}/test/ticks?n=2`]),
  ])
  assert.equal(kept.code, 0, kept.stderr)
  assert.equal(kept.stdout, 'start\ntick 1\ntick 2\n2')
  assert.equal(cut.code, CURLE_PARTIAL_FILE, cut.stderr)
  assert.equal(cut.stdout, 'start\n')
})

test('a peer that stops answering PINGs is dropped, freeing its streams', async () => {
  const port = Number(new URL(immortalUrl).port)
  const proxy = new FreezableProxy({ host: '127.0.0.1', port })
  await proxy.listen()
  const session = http2.connect(`http://127.0.0.1:${proxy.port}`)
  session.on('error', () => {})
  let pings = 0
  session.on('ping', () => pings++)
  const immortal = h.herald.stats().h2.immortalStreams
  const pingTimeouts = await timeouts('ping')
  const stream = session.request({ ':path': '/test/ticks?n=1&gap=60000&id=frozen' })
  stream.on('error', () => {})
  await once(stream, 'response')
  // Alive and answering PINGs: still there after several idle timeouts.
  await new Promise((r) => setTimeout(r, IDLE * 1000 * 3))
  assert.ok(!serverClosed.includes('frozen'))
  assert.ok(pings > 0, 'the server checks liveness with PINGs')
  assert.equal(h.herald.stats().h2.immortalStreams, immortal + 1)
  proxy.freeze()
  await until(() => serverClosed.includes('frozen'), 'the server closing the stream of the silent peer')
  await until(() => h.herald.stats().h2.immortalStreams === immortal, 'the silent peer\'s immortal stream is freed')
  assert.equal(await timeouts('ping'), pingTimeouts + 1, 'counted as a PING timeout')
  session.destroy()
  proxy.close()
})

test('after the last immortal stream closes, the session idle timeout applies again', async () => {
  const before = await timeouts('session')
  const session: ClientHttp2Session = await connectH2(immortalUrl)
  const closed = once(session, 'close')
  const out = await collect(session.request({ ':path': '/test/ticks?n=1' }))
  assert.deepEqual(lines(out), ['start', 'tick 1'])
  assert.equal(session.closed || session.destroyed, false, 'the session lived while its stream did')
  await Promise.race([closed, new Promise((_, rej) => setTimeout(() => rej(new Error('session not closed by the idle timeout')), 5000))])
  assert.equal(await timeouts('session'), before + 1, 'closed by the session idle timeout')
})

// Timeouts by kind are counted in the tests above, each its own; this one needs no other test.
test('metrics: open HTTP/2 connections and immortal streams on /metrics agree with stats()', async () => {
  const before = h.herald.stats().h2
  const session = await connectH2(immortalUrl)
  const stream = session.request({ ':path': '/test/ticks?n=1&gap=60000' }) // a half-closed GET: immortal
  stream.on('error', () => {})
  await once(stream, 'response')
  await until(() => h.herald.stats().h2.immortalStreams === before.immortalStreams + 1, 'the stream held as immortal')
  const { h2 } = h.herald.stats()
  assert.equal(h2.sessions, before.sessions + 1)
  // A fetch of /metrics over HTTP/1.1 adds no HTTP/2 connection.
  assert.equal(await metric(h.url, 'herald_h2_sessions'), h2.sessions)
  assert.equal(await metric(h.url, 'herald_h2_immortal_streams'), h2.immortalStreams)
  session.destroy()
  await until(() => h.herald.stats().h2.sessions === before.sessions, 'the connection gone')
  assert.equal(h.herald.stats().h2.immortalStreams, before.immortalStreams)
  assert.equal(await metric(h.url, 'herald_h2_sessions'), before.sessions)
  assert.equal(await metric(h.url, 'herald_h2_immortal_streams'), before.immortalStreams)
})
