import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { after, before, test } from 'node:test'
import { Agent, WebSocket as UndiciWebSocket } from 'undici'
import { publicIdentifier } from '../../src/protocol/identifier.js'
import { connectH2, h2Request, H2WebSocket } from '../support/h2.js'
import { startHerald, WireClient, type TestHerald } from '../support/herald.js'
import { makeSelfSignedCert, type TestCert } from '../support/tls.js'
import { until, within } from '../support/util.js'

let h: TestHerald
let cert: TestCert
let tlsUrl: string

before(async () => {
  cert = makeSelfSignedCert()
  h = await startHerald({
    publicStreams: true,
    pingInterval: 0.2,
    maxMessageSize: 1024,
    allowedOrigins: 'https://good.example',
    listeners: [{ port: 0, host: '127.0.0.1', tlsCert: cert.cert, tlsKey: cert.key }],
  })
  tlsUrl = h.herald.listeners[1].url
})
after(async () => {
  await h.close()
  cert.remove()
})

const transports = () => h.herald.clients().map((c) => c.transport)

async function publish(stream: string, data: unknown): Promise<void> {
  const res = await fetch(`${h.url}/_broadcast`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ stream, data: JSON.stringify(data) }) })
  assert.equal(res.status, 201)
}

for (const scheme of ['h2c', 'tls'] as const) {
  test(`${scheme}: SETTINGS_ENABLE_CONNECT_PROTOCOL, welcome, subscribe and a broadcast over an RFC 8441 stream`, async () => {
    const session = await connectH2(scheme === 'tls' ? tlsUrl : h.url)
    assert.equal(session.remoteSettings.enableConnectProtocol, true)
    const ws = await H2WebSocket.open(session, '/cable')
    assert.equal(ws.headers['sec-websocket-protocol'], 'actioncable-v1-ext-json')
    assert.equal(ws.headers['sec-websocket-accept'], undefined, 'no key sent, no accept')
    const welcome = await ws.waitForType('welcome')
    assert.ok(welcome.sid)
    const identifier = publicIdentifier(`h2ws-${scheme}`)
    ws.send({ command: 'subscribe', identifier })
    await ws.waitForType('confirm_subscription')
    assert.ok(transports().includes('ws-h2'))
    await publish(`h2ws-${scheme}`, { n: 1 })
    const msg = await ws.waitFor((m) => m.identifier === identifier && m.message)
    assert.deepEqual(msg.message, { n: 1 })
    await ws.close()
    assert.equal(session.closed, false, 'the connection outlives the WebSocket')
    assert.equal((await h2Request(session, '/health')).body, 'OK')
    session.close()
  })
}

test('sec-websocket-accept when a key is sent; the base protocol is negotiated too', async () => {
  const session = await connectH2(h.url)
  const key = Buffer.from('0123456789abcdef').toString('base64')
  const ws = await H2WebSocket.open(session, '/cable', { 'sec-websocket-key': key, 'sec-websocket-protocol': 'foo, actioncable-v1-json' })
  const expected = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64')
  assert.equal(ws.headers['sec-websocket-accept'], expected)
  assert.equal(ws.headers['sec-websocket-protocol'], 'actioncable-v1-json')
  await ws.waitForType('welcome')
  await ws.close()
  session.close()
})

test('refusals: wrong path 404, Origin 403, bad version or key 400, plain CONNECT 405', async () => {
  const session = await connectH2(h.url)
  const status = (path: string, headers: Record<string, string> = {}) =>
    H2WebSocket.open(session, path, headers).then(() => 200, (err) => err.status)
  assert.equal(await status('/nope'), 404)
  assert.equal(await status('/cable', { origin: 'https://evil.example' }), 403)
  assert.equal(await status('/cable', { origin: 'https://good.example' }), 200)
  assert.equal(await status('/cable', { 'sec-websocket-version': '8' }), 400)
  assert.equal(await status('/cable', { 'sec-websocket-key': 'short' }), 400)
  const plain = session.request({ ':method': 'CONNECT', ':authority': 'example.com:443' })
  const [res] = await once(plain, 'response')
  assert.equal(res[':status'], 405)
  plain.close()
  session.close()
})

test('WebSockets over HTTP/2 are served on the raw stream: Node\'s compat layer makes no request/response for them, while other requests on the connection still go through it', async () => {
  const seen = { connect: 0, request: 0 }
  const countConnect = () => { seen.connect++ }
  const countRequest = () => { seen.request++ }
  const servers = h.herald.listeners.map((l) => l.h2)
  for (const server of servers) {
    server.on('connect', countConnect)
    server.on('request', countRequest)
  }
  try {
    for (const url of [h.url, tlsUrl]) {
      const session = await connectH2(url)
      const ws = await H2WebSocket.open(session, '/cable')
      await ws.waitForType('welcome')
      // A refusal is answered on the raw stream too, with the usual JSON error body.
      const refused = session.request({ ':method': 'CONNECT', ':protocol': 'websocket', ':path': '/nope', 'sec-websocket-version': '13' }, { endStream: false })
      const [head] = await once(refused, 'response')
      let body = ''
      refused.setEncoding('utf8')
      for await (const chunk of refused) body += chunk
      assert.equal(head[':status'], 404)
      assert.equal(JSON.parse(body).error.code, 'HERALD_ERR_NOT_FOUND')
      assert.deepEqual(seen, { connect: 0, request: 0 }, 'no compat request for a CONNECT')
      assert.equal((await h2Request(session, '/health')).body, 'OK')
      assert.equal(seen.request, 1, 'a GET still reaches the compat request handler')
      seen.request = 0
      await ws.close()
      session.close()
    }
  } finally {
    for (const server of servers) {
      server.off('connect', countConnect)
      server.off('request', countRequest)
    }
  }
})

test('several WebSockets multiplexed on one connection, each its own session', async () => {
  const session = await connectH2(h.url)
  const sockets = await Promise.all([1, 2, 3, 4].map(() => H2WebSocket.open(session, '/cable')))
  const sids = await Promise.all(sockets.map(async (s) => (await s.waitForType('welcome')).sid))
  assert.equal(new Set(sids).size, 4)
  const identifier = publicIdentifier('h2ws-many')
  for (const s of sockets) s.send({ command: 'subscribe', identifier })
  await Promise.all(sockets.map((s) => s.waitForType('confirm_subscription')))
  await publish('h2ws-many', { all: true })
  for (const s of sockets) assert.deepEqual((await s.waitFor((m) => m.identifier === identifier && m.message)).message, { all: true })
  await Promise.all(sockets.map((s) => s.close()))
  session.close()
})

test('same limits, pings and close codes as over HTTP/1.1', async () => {
  const session = await connectH2(h.url)
  const big = await H2WebSocket.open(session, '/cable')
  await big.waitForType('welcome')
  await big.waitForType('ping', 2000) // protocol pings every 0.2 s
  big.send({ command: 'message', identifier: 'x', data: 'y'.repeat(2000) })
  assert.equal((await big.closed()).code, 1009)

  const bin = await H2WebSocket.open(session, '/cable')
  await bin.waitForType('welcome')
  bin.frame(0x2, Buffer.from([1, 2, 3]))
  assert.equal((await bin.closed()).code, 1003)

  const bad = await H2WebSocket.open(session, '/cable')
  await bad.waitForType('welcome')
  bad.send('{not json')
  assert.equal((await bad.closed()).code, 1008)

  // A ping frame from the client is answered (ws's autoPong: the server options were passed).
  const pinger = await H2WebSocket.open(session, '/cable')
  await pinger.waitForType('welcome')
  const pong = new Promise<void>((resolve) => pinger.stream.on('data', (d: Buffer) => { if (d[0] === 0x8a) resolve() }))
  pinger.frame(0x9, Buffer.from('hi'))
  await within(pong, 5000, 'the pong')
  await pinger.close()
  session.close()
})

test('the WebSocket on an h2 stream is a server one: an unmasked client frame is closed with 1002 (RFC 6455 §5.1)', async () => {
  const session = await connectH2(h.url)
  const c = await H2WebSocket.open(session, '/cable')
  await c.waitForType('welcome')
  c.frame(0x1, Buffer.from(JSON.stringify({ command: 'subscribe', identifier: publicIdentifier('unmasked') })), { mask: false })
  assert.equal((await c.closed()).code, 1002)
  assert.equal(c.messages.some((m) => m.type === 'confirm_subscription'), false, 'the unmasked command was not acted on')
  session.close()
})

test("a close the server starts waits for the client's close frame: the stream stays open until it comes, then ends without a reset", async () => {
  const session = await connectH2(h.url)
  const c = await H2WebSocket.open(session, '/cable', {}, { answerClose: false })
  await c.waitForType('welcome')
  c.send('{not json')
  await until(() => c.closeCode !== undefined, "the server's close frame")
  assert.equal(c.closeCode, 1008)
  // Built without ws's server options (closeTimeout undefined), the server destroyed the stream
  // a moment after its close frame; with them it waits for the client, as over HTTP/1.1.
  await new Promise((resolve) => setTimeout(resolve, 300))
  assert.equal(c.stream.closed, false, 'still open 300 ms after the close frame')
  const rst = new Promise<number>((resolve) => c.stream.once('close', () => resolve(c.stream.rstCode ?? -1)))
  await c.close(1008)
  assert.equal(await rst, 0, 'ended with NO_ERROR')
  session.close()
})

test('undici WebSocket with allowH2 over TLS (sends a key, requires the accept)', async () => {
  const agent = new Agent({ allowH2: true, connect: { rejectUnauthorized: false } })
  const ws = new UndiciWebSocket(`${tlsUrl.replace('https', 'wss')}/cable`, { protocols: ['actioncable-v1-ext-json'], dispatcher: agent } as any)
  const messages: any[] = []
  ws.onmessage = (e: any) => messages.push(JSON.parse(String(e.data)))
  await within(new Promise<void>((resolve, reject) => { ws.onopen = () => resolve(); ws.onerror = (e: any) => reject(e.error ?? new Error('undici websocket error')) }), 10_000, 'the WebSocket to open')
  assert.equal(ws.protocol, 'actioncable-v1-ext-json')
  await until(() => messages.some((m) => m.type === 'welcome'), 'the welcome')
  const sid = messages.find((m) => m.type === 'welcome').sid
  const conn = h.herald.clients().find((c) => c.sid === sid)
  assert.equal(conn?.transport, 'ws-h2', 'undici used HTTP/2')
  const closed = new Promise<{ code: number; wasClean: boolean }>((resolve) => { ws.onclose = (e: any) => resolve({ code: e.code, wasClean: e.wasClean }) })
  ws.close(1000)
  // A clean close well within ws's 30 s closeTimeout: the server ends the stream after the handshake.
  assert.deepEqual(await within(closed, 10_000, 'the close, long before ws\'s 30 s closeTimeout'), { code: 1000, wasClean: true })
  await until(() => !h.herald.clients().some((c) => c.sid === sid), 'the server ended the session')
  await agent.close()
})

test('an HTTP/1.1 WebSocket client on the same TLS port still works', async () => {
  const c = await WireClient.connect(`${tlsUrl.replace('https', 'wss')}/cable`, 'actioncable-v1-ext-json', { rejectUnauthorized: false })
  await c.waitForType('welcome')
  assert.ok(transports().includes('ws'))
  c.close()
  await c.closed()
})
