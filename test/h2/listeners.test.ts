import assert from 'node:assert/strict'
import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import tls from 'node:tls'
import { HeraldConfigError, loadConfig } from '../../src/config/load.js'
import { Herald } from '../../src/herald.js'
import { createLogger } from '../../src/observability/logger.js'
import { connectH2, curl, h2Request } from '../support/h2.js'
import { startHerald, type TestHerald } from '../support/herald.js'
import { makeSelfSignedCert, type TestCert } from '../support/tls.js'
import { metric, within } from '../support/util.js'

const SEED_CIPHERS = 'RC4-MD5:RC4-SHA:AES128-SHA:AES256-SHA:HIGH:!DSS:!aNULL'
/** curl's exit code for a failed TLS handshake. */
const CURLE_SSL_CONNECT_ERROR = 35

let h: TestHerald
let cert: TestCert
let tlsUrl: string
let narrowUrl: string

before(async () => {
  cert = makeSelfSignedCert()
  h = await startHerald({
    listeners: [
      { name: 'tls', port: 0, tlsCert: cert.cert, tlsKey: cert.key, tlsCiphers: SEED_CIPHERS },
      { name: 'narrow', port: 0, tlsCert: cert.cert, tlsKey: cert.key, tlsCiphers: 'AES256-SHA' },
    ],
  })
  tlsUrl = h.herald.listeners[1].url
  narrowUrl = h.herald.listeners[2].url
})
after(async () => {
  await h.close()
  cert.remove()
})

test('cleartext: one port serves HTTP/1.1 and HTTP/2 with prior knowledge (curl)', async () => {
  const h1 = await curl(['-w', ' %{http_version}', `${h.url}/health`])
  assert.equal(h1.stdout, 'OK 1.1')
  const h2 = await curl(['--http2-prior-knowledge', '-w', ' %{http_version}', `${h.url}/health`])
  assert.equal(h2.stdout, 'OK 2')
  // `Upgrade: h2c` (deprecated, RFC 9113 §3.1) is ignored: the GET is answered over HTTP/1.1.
  const upgrade = await curl(['--http2', '-w', ' %{http_version}', `${h.url}/health`])
  assert.equal(upgrade.stdout, 'OK 1.1')
})

test('TLS: ALPN offers h2 and http/1.1 on the same port (curl --http2 and --http1.1)', async () => {
  const h2 = await curl(['-k', '--http2', '-w', ' %{http_version}', `${tlsUrl}/health`])
  assert.equal(h2.stdout, 'OK 2', h2.stderr)
  const h1 = await curl(['-k', '--http1.1', '-w', ' %{http_version}', `${tlsUrl}/health`])
  assert.equal(h1.stdout, 'OK 1.1', h1.stderr)
  for (const proto of ['h2', 'http/1.1']) {
    const socket = tls.connect({ port: Number(new URL(tlsUrl).port), host: '127.0.0.1', ALPNProtocols: [proto], rejectUnauthorized: false })
    await once(socket, 'secureConnect')
    assert.equal(socket.alpnProtocol, proto)
    socket.destroy()
  }
})

for (const kind of ['h2c', 'tls'] as const) {
  test(`${kind}: the jobs API and the demo page over HTTP/2 (Node's client)`, async () => {
    const session = await connectH2(kind === 'tls' ? tlsUrl : h.url)
    const created = await h2Request(session, '/jobs', {
      method: 'POST', body: JSON.stringify({ type: 'demo', input: { steps: 2, delayMs: 10 } }), headers: { 'content-type': 'application/json' },
    })
    assert.equal(created.status, 201)
    const job = JSON.parse(created.body)
    const read = await h2Request(session, `/jobs/${job.id}`)
    assert.equal(read.status, 200)
    assert.equal(JSON.parse(read.body).id, job.id)
    const page = await h2Request(session, '/')
    assert.equal(page.status, 200)
    assert.match(String(page.headers['content-type']), /text\/html/)
    assert.equal((await h2Request(session, '/nope')).status, 404)
    session.close()
  })
}

test('the preface sniffer: a request split across packets, and a near-miss of the preface, go to HTTP/1.1', async () => {
  const port = Number(new URL(h.url).port)
  const ask = async (parts: string[]) => {
    const socket = net.connect(port, '127.0.0.1')
    await once(socket, 'connect')
    let text = ''
    socket.on('data', (d) => (text += d))
    for (const p of parts) {
      socket.write(p)
      await new Promise((r) => setTimeout(r, 50))
    }
    await Promise.race([once(socket, 'close'), new Promise((r) => setTimeout(r, 1000))])
    socket.destroy()
    return text
  }
  assert.match(await ask(['GE', 'T /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']), /^HTTP\/1\.1 200 OK[\s\S]*\r\nOK\r\n/)
  // Not the preface, so HTTP/1.1's parser gets it, and "PRI" is no HTTP/1.1 request line: 400 (docs/errors.md).
  const badRequests = await metric(h.url, 'herald_errors_total', { code: 'HERALD_ERR_BAD_REQUEST' })
  assert.match(await ask(['PRI * HTTP/1.1\r\n', 'Host: x\r\nConnection: close\r\n\r\n']), /^HTTP\/1\.1 400 Bad Request\r\n/)
  assert.equal(await metric(h.url, 'herald_errors_total', { code: 'HERALD_ERR_BAD_REQUEST' }), badRequests + 1)
})

test('the allowHTTP1 fallback gets the HTTP/1.1 timeouts: idle keep-alive closed, a slow body cut with 408 (docs/node-notes.md §3)', async () => {
  const c = makeSelfSignedCert()
  const k = await startHerald({ tlsCert: c.cert, tlsKey: c.key, keepAliveTimeout: 0.2, requestTimeout: 0.3, headersTimeout: 0.2 })
  const connect = async () => {
    const socket = tls.connect({ port: Number(new URL(k.url).port), host: '127.0.0.1', ALPNProtocols: ['http/1.1'], rejectUnauthorized: false })
    let answer = ''
    socket.setEncoding('latin1').on('data', (d: string) => (answer += d))
    await once(socket, 'secureConnect')
    return { socket, answer: () => answer }
  }
  try {
    const idle = await connect()
    idle.socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n')
    await within(once(idle.socket, 'close'), 10_000, 'the keep-alive timeout') // closed by the server, not by us
    assert.match(idle.answer(), /^HTTP\/1\.1 200 /)
    const slow = await connect()
    slow.socket.write('POST /jobs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"typ') // …and the rest never comes
    await within(once(slow.socket, 'close'), 10_000, 'the request timeout')
    assert.match(slow.answer(), /^HTTP\/1\.1 408 /)
  } finally {
    await k.close()
    c.remove()
  }
})

test('--tls-ciphers: the seed\'s list is accepted and applied to TLS 1.2', async () => {
  const args = (cipher: string, url: string) => ['-k', '--http1.1', '--tlsv1.2', '--tls-max', '1.2', '--ciphers', cipher, `${url}/health`]
  assert.equal((await curl(args('AES128-SHA', tlsUrl))).stdout, 'OK')
  assert.equal((await curl(args('ECDHE-RSA-AES128-GCM-SHA256', tlsUrl))).stdout, 'OK')
  assert.equal((await curl(args('AES256-SHA', narrowUrl))).stdout, 'OK')
  const refused = await curl(args('ECDHE-RSA-AES128-GCM-SHA256', narrowUrl))
  assert.equal(refused.code, CURLE_SSL_CONNECT_ERROR, `a cipher outside the list is refused in the handshake: ${refused.stderr}`)
})

test('virtual hosts from the JSON config file, with the seed\'s option names', async () => {
  const file = join(cert.dir, 'herald.json')
  writeFileSync(file, JSON.stringify({
    host: '127.0.0.1',
    port: 0,
    'h2-idle-timeout': 5,
    listeners: [
      { name: 'secure', port: 0, 'tls-cert': cert.cert, 'tls-key': cert.key, 'tls-ciphers': SEED_CIPHERS, 'h2-half-closed-long-poll': '1' },
      { port: 0, 'h2-half-closed-long-poll': true, 'h2-idle-timeout': 0.5 },
    ],
  }))
  const config = loadConfig({ argv: ['--config', file] })
  const herald = new Herald({ config, logger: createLogger('err') })
  await herald.listen()
  try {
    const [main, secure, third] = herald.listeners
    assert.deepEqual([main.secure, secure.secure, third.secure], [false, true, false])
    assert.deepEqual(herald.listeners.map((l) => l.spec.h2HalfClosedLongPoll), [false, true, true])
    assert.deepEqual(herald.listeners.map((l) => l.spec.h2IdleTimeout), [5, 5, 0.5])
    assert.equal(secure.spec.name, 'secure')
    assert.match(herald.url, /^http:\/\//)
    assert.match(secure.url, /^https:\/\//)
    for (const l of herald.listeners) {
      const r = await curl([...(l.secure ? ['-k', '--http2'] : ['--http2-prior-knowledge']), '-w', ' %{http_version}', `${l.url}/health`])
      assert.equal(r.stdout, 'OK 2', `${l.spec.name}: ${r.stderr}`)
    }
  } finally {
    await herald.close(100)
  }
})

test('listeners from HERALD_LISTENERS or --listeners as JSON, with the same key forms', () => {
  const fromEnv = loadConfig({ env: { HERALD_LISTENERS: '[{"port":8443,"h2-half-closed-long-poll":"1","h2-ping-interval":5}]' } })
  assert.deepEqual(fromEnv.listeners.map((l) => [l.port, l.h2HalfClosedLongPoll, l.h2PingInterval]), [[8443, true, 5]])
  const fromFlag = loadConfig({ argv: ['--listeners', '[{"port":9000,"h2HalfClosedLongPoll":false}]'] })
  assert.deepEqual(fromFlag.listeners.map((l) => [l.port, l.h2HalfClosedLongPoll]), [[9000, false]])
  assert.throws(() => loadConfig({ argv: ['--listeners', 'nope'] }), /listeners: expected a JSON array/)
  assert.throws(() => loadConfig({ argv: ['--listeners', '[{"port":1,"h2-half-closed-long-poll":"maybe"}]'] }), /listeners\.0\.h2HalfClosedLongPoll/)
})

test('configuration problems are reported: a lone --tls-cert, an unreadable file', () => {
  assert.throws(() => loadConfig({ argv: ['--tls-cert', cert.cert] }), (err: HeraldConfigError) => /tlsKey: tlsCert and tlsKey must be given together/.test(err.message))
  const config = loadConfig({ overrides: { port: 0, tlsCert: join(cert.dir, 'missing.pem'), tlsKey: cert.key } })
  assert.throws(() => new Herald({ config, logger: createLogger('err') }), (err: HeraldConfigError) => err instanceof HeraldConfigError && /tlsCert: cannot read .*missing\.pem: ENOENT/.test(err.message))
})

test('shutdown closes idle HTTP/1.1 keep-alive sockets at once, cleartext and TLS', async () => {
  const c = makeSelfSignedCert()
  const herald = new Herald({
    config: loadConfig({ overrides: { host: '127.0.0.1', port: 0, listeners: [{ port: 0, tlsCert: c.cert, tlsKey: c.key }] } }),
    logger: createLogger('err'),
  })
  await herald.listen()
  const sockets = await Promise.all(herald.listeners.map(async (l) => {
    const port = Number(new URL(l.url).port)
    const socket: net.Socket = l.secure
      ? tls.connect({ port, host: '127.0.0.1', ALPNProtocols: ['http/1.1'], rejectUnauthorized: false })
      : net.connect(port, '127.0.0.1')
    await once(socket, l.secure ? 'secureConnect' : 'connect')
    socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n')
    await once(socket, 'data')
    return socket
  }))
  const socketsClosed = Promise.all(sockets.map((s) => once(s, 'close')))
  // A grace of a minute: sockets that close within the deadline below were not waited out.
  const closing = herald.close(60_000)
  await within(socketsClosed, 10_000, 'the idle keep-alive sockets to close long before the 60 s grace ends')
  await within(closing, 10_000, 'close() to finish once nothing is open')
  c.remove()
})

test('shutdown ends silent sockets after the grace: one in its TLS handshake, one the sniffer still waits on', async () => {
  const c = makeSelfSignedCert()
  const herald = new Herald({
    config: loadConfig({ overrides: { host: '127.0.0.1', port: 0, listeners: [{ port: 0, tlsCert: c.cert, tlsKey: c.key }] } }),
    logger: createLogger('err'),
  })
  await herald.listen()
  const sockets = await Promise.all(herald.listeners.map(async (l) => {
    const socket = net.connect(Number(new URL(l.url).port), '127.0.0.1')
    socket.on('error', () => {})
    await once(socket, 'connect')
    return socket
  }))
  // Left alone, the handshake would wait for TLS's 120 s timeout and the sniffer for its bytes.
  await within(herald.close(300), 10_000, 'close() to end the silent sockets after its 0.3 s grace')
  await within(Promise.all(sockets.map((s) => (s.closed ? undefined : once(s, 'close')))), 5000, 'the sockets closed')
  c.remove()
})
