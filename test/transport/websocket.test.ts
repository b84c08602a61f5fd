import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { WebSocket } from 'ws'
import { signStream } from '../../src/auth/signed-stream.js'
import { publicIdentifier, signedIdentifier } from '../../src/protocol/identifier.js'
import { startHerald, WireClient, type TestHerald } from '../support/herald.js'
import { metric, until, within } from '../support/util.js'

const servers: TestHerald[] = []
after(async () => { await Promise.all(servers.map((s) => s.close())) })
async function server(overrides: Parameters<typeof startHerald>[0] = {}): Promise<TestHerald> {
  const s = await startHerald(overrides)
  servers.push(s)
  return s
}

/** The HTTP status that refuses an upgrade (rejects if the socket opens instead). */
function upgradeStatus(url: string, protocols: string[] = ['actioncable-v1-ext-json'], headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, { headers })
    ws.on('unexpected-response', (req, res) => {
      resolve(res.statusCode!)
      res.resume()
      req.destroy()
    })
    ws.on('open', () => { ws.terminate(); reject(new Error('the upgrade succeeded')) })
    ws.on('error', () => { /* after the refusal */ })
  })
}

const errors = (s: TestHerald, code: string) => metric(s.url, 'herald_errors_total', { code })

describe('WebSocket bad input', () => {
  let h: TestHerald
  before(async () => { h = await server({ maxMessageSize: 1024 }) })

  // These tests share one server, so each reads its counters as before/after deltas.
  test('a message over maxMessageSize closes 1009', async () => {
    const [tooBig, disconnects] = [await errors(h, 'HERALD_ERR_MESSAGE_TOO_BIG'), await metric(h.url, 'herald_disconnects_total', { reason: 'message_too_big' })]
    const c = await WireClient.connect(h.wsUrl)
    await c.waitForType('welcome')
    c.send(JSON.stringify({ command: 'subscribe', identifier: 'x'.repeat(2000) }))
    assert.equal((await c.closed()).code, 1009)
    assert.equal(await errors(h, 'HERALD_ERR_MESSAGE_TOO_BIG'), tooBig + 1)
    assert.equal(await metric(h.url, 'herald_disconnects_total', { reason: 'message_too_big' }), disconnects + 1)
  })

  test('a message of exactly maxMessageSize is accepted', async () => {
    const c = await WireClient.connect(h.wsUrl)
    await c.waitForType('welcome')
    const base = JSON.stringify({ command: 'ping', pad: '' })
    c.send(JSON.stringify({ command: 'ping', pad: 'x'.repeat(1024 - base.length) }))
    await c.waitForType('pong')
    c.close()
  })

  test('a text frame that is not UTF-8 closes 1007', async () => {
    const before = await errors(h, 'HERALD_ERR_INVALID_UTF8')
    const c = await WireClient.connect(h.wsUrl)
    await c.waitForType('welcome')
    c.ws.send(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), { binary: false })
    assert.equal((await c.closed()).code, 1007)
    assert.equal(await errors(h, 'HERALD_ERR_INVALID_UTF8'), before + 1)
  })

  test('a binary frame gets disconnect unsupported_data, then close 1003', async () => {
    const before = await errors(h, 'HERALD_ERR_BINARY_FRAME')
    const c = await WireClient.connect(h.wsUrl)
    await c.waitForType('welcome')
    c.ws.send(Buffer.from('{"command":"ping"}'), { binary: true })
    const { code, reason } = await c.closed()
    assert.equal(code, 1003)
    assert.equal(reason, 'unsupported_data')
    assert.deepEqual(c.messages.at(-1), { type: 'disconnect', reason: 'unsupported_data', reconnect: false })
    assert.equal(await errors(h, 'HERALD_ERR_BINARY_FRAME'), before + 1)
  })

  for (const [what, text] of [
    ['malformed JSON', '{"command":"subscribe",'],
    ['an unknown command', '{"command":"dance","identifier":"x"}'],
    ['a non-string identifier', '{"command":"subscribe","identifier":{"channel":"$pubsub"}}'],
  ]) {
    test(`${what} gets disconnect invalid_command, then close 1008`, async () => {
      const before = await errors(h, 'HERALD_ERR_BAD_COMMAND')
      const c = await WireClient.connect(h.wsUrl)
      await c.waitForType('welcome')
      c.send(text)
      const { code, reason } = await c.closed()
      assert.equal(code, 1008)
      assert.equal(reason, 'invalid_command')
      assert.deepEqual(c.messages.at(-1), { type: 'disconnect', reason: 'invalid_command', reconnect: false })
      assert.equal(await errors(h, 'HERALD_ERR_BAD_COMMAND'), before + 1)
    })
  }

  test('an upgrade at another path is 404', async () => {
    const before = await errors(h, 'HERALD_ERR_NOT_FOUND')
    assert.equal(await upgradeStatus(`${h.url.replace('http', 'ws')}/other`), 404)
    assert.equal(await upgradeStatus(`${h.wsUrl}/deeper`), 404)
    assert.equal(await errors(h, 'HERALD_ERR_NOT_FOUND'), before + 2)
  })

  test('an upgrade whose request target is not a URL is 400, and the server lives on', async () => {
    const before = await errors(h, 'HERALD_ERR_BAD_REQUEST')
    const { port } = new URL(h.url)
    const status = await within(new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.write('GET //[ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
      })
      let text = ''
      socket.on('data', (d) => (text += d))
      socket.on('close', () => resolve(text.split('\r\n')[0]))
      socket.on('error', reject)
    }), 10_000, 'the answer to the upgrade')
    assert.equal(status, 'HTTP/1.1 400 Bad Request')
    assert.equal(await errors(h, 'HERALD_ERR_BAD_REQUEST'), before + 1)
  })

  test('a frame that breaks RFC 6455 (unmasked from a client) closes 1002', async () => {
    const [badFrames, protocolErrors] = [await errors(h, 'HERALD_ERR_BAD_FRAME'), await metric(h.url, 'herald_disconnects_total', { reason: 'protocol_error' })]
    const { port } = new URL(h.url)
    const closeCode = await within(new Promise<number>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.write('GET /cable HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
      })
      let buf = Buffer.alloc(0)
      let upgraded = false
      socket.on('data', (d) => {
        buf = Buffer.concat([buf, d])
        if (!upgraded) {
          const end = buf.indexOf('\r\n\r\n')
          if (end < 0) return
          assert.match(buf.subarray(0, end).toString(), /^HTTP\/1.1 101/)
          upgraded = true
          buf = buf.subarray(end + 4)
          socket.write(Buffer.from([0x81, 0x02, 0x7b, 0x7d])) // text "{}", mask bit not set
        }
        // Server frames: the welcome (text), then a close frame (opcode 8) with its code.
        for (let i = 0; i + 1 < buf.length;) {
          const len = buf[i + 1] & 0x7f
          const header = len === 126 ? 4 : 2
          const size = len === 126 ? buf.readUInt16BE(i + 2) : len
          if (i + header + size > buf.length) break
          if ((buf[i] & 0x0f) === 0x8) {
            resolve(buf.readUInt16BE(i + header))
            return void socket.destroy()
          }
          i += header + size
        }
      })
      socket.on('close', () => reject(new Error('closed without a close frame')))
      socket.on('error', reject)
    }), 10_000, 'the close frame')
    assert.equal(closeCode, 1002)
    assert.equal(await errors(h, 'HERALD_ERR_BAD_FRAME'), badFrames + 1)
    await until(async () => (await metric(h.url, 'herald_disconnects_total', { reason: 'protocol_error' })) > protocolErrors, 'protocol_error counted')
    assert.equal(await metric(h.url, 'herald_disconnects_total', { reason: 'protocol_error' }), protocolErrors + 1)
  })

  test('the server stays healthy after all of that', async () => {
    const c = await WireClient.connect(h.wsUrl)
    await c.waitForType('welcome')
    c.send({ command: 'ping' })
    await c.waitForType('pong')
    c.close()
  })
})

describe('ignoreEncodingErrors', () => {
  test('accepts text frames that are not UTF-8', async () => {
    const h = await server({ ignoreEncodingErrors: true })
    const c = await WireClient.connect(h.wsUrl)
    await c.waitForType('welcome')
    c.ws.send(Buffer.from('{"command":"ping","x":"\xff"}', 'latin1'), { binary: false })
    await c.waitForType('pong')
    c.close()
  })
})

describe('upgrade refusals', () => {
  test('a foreign Origin is 403 when allowedOrigins is set; allowed origins and no Origin pass', async () => {
    const h = await server({ allowedOrigins: 'app.example, https://other.example' })
    assert.equal(await upgradeStatus(h.wsUrl, undefined, { origin: 'http://evil.example' }), 403)
    assert.equal(await upgradeStatus(h.wsUrl, undefined, { origin: 'http://other.example' }), 403, 'scheme must match a full-origin entry')
    assert.equal(await errors(h, 'HERALD_ERR_FORBIDDEN_ORIGIN'), 2)
    for (const origin of ['http://app.example', 'https://other.example']) {
      const c = await WireClient.connect(h.wsUrl, undefined, { headers: { origin } })
      await c.waitForType('welcome')
      c.close()
    }
    const c = await WireClient.connect(h.wsUrl)
    await c.waitForType('welcome')
    c.close()
  })

  test('over maxSessions the upgrade is 503; a freed place can be taken again', async () => {
    const h = await server({ maxSessions: 1 })
    const first = await WireClient.connect(h.wsUrl)
    await first.waitForType('welcome')
    assert.equal(await upgradeStatus(h.wsUrl), 503)
    assert.equal(await errors(h, 'HERALD_ERR_TOO_MANY_SESSIONS'), 1)
    first.close()
    await until(() => h.herald.stats().connections.total === 0, 'session closed')
    const again = await WireClient.connect(h.wsUrl)
    await again.waitForType('welcome')
    again.close()
  })
})

describe('subprotocols', () => {
  let h: TestHerald
  before(async () => { h = await server({ publicStreams: true }) })

  const cases: [string | string[], string][] = [
    ['actioncable-v1-ext-json', 'actioncable-v1-ext-json'],
    ['actioncable-v1-json', 'actioncable-v1-json'],
    [['actioncable-v1-json', 'actioncable-v1-ext-json'], 'actioncable-v1-ext-json'],
    [['something-else', 'actioncable-v1-json'], 'actioncable-v1-json'],
  ]
  for (const [offered, chosen] of cases) {
    test(`offered ${JSON.stringify(offered)} → ${chosen}`, async () => {
      const c = await WireClient.connect(h.wsUrl, offered)
      assert.equal(c.ws.protocol, chosen)
      await c.waitForType('welcome')
      c.close()
    })
  }

  test('none offered still works, with the base protocol', async () => {
    const c = await WireClient.connect(h.wsUrl, [])
    assert.equal(c.ws.protocol, '')
    await c.waitForType('welcome')
    const identifier = publicIdentifier('np')
    c.send({ command: 'subscribe', identifier, history: { since: 1 } })
    await c.waitForType('confirm_subscription')
    const m = await h.herald.publish('np', { a: 1 })
    const got = await c.waitFor((x) => x.identifier === identifier && x.message)
    assert.deepEqual(got.message, { a: 1 })
    assert.equal(got.offset, m.offset)
    c.send({ command: 'history', identifier, history: { since: 1 } })
    await c.waitForType('reject_history')
    c.close()
  })
})

describe('subscriptions', () => {
  test('unsigned streams are rejected without publicStreams; bad signatures and other channels always', async () => {
    const h = await server({ streamsSecret: 'ws-test-secret' })
    const c = await WireClient.connect(h.wsUrl)
    await c.waitForType('welcome')
    const good = signStream('room', 'ws-test-secret')
    const identifiers = [
      publicIdentifier('room'),
      signedIdentifier(signStream('room', 'some other secret')),
      signedIdentifier(good.slice(0, -1) + (good.endsWith('0') ? '1' : '0')),
      '{"channel":"ChatChannel"}',
      'not json',
    ]
    for (const identifier of identifiers) {
      c.send({ command: 'subscribe', identifier })
      const { reason, ...reply } = await c.waitFor((m) => m.identifier === identifier)
      assert.deepEqual(reply, { type: 'reject_subscription', identifier })
      assert.match(reason, /public streams are disabled|bad stream signature|unknown channel|not a channel object/, 'says why (a field AnyCable clients ignore)')
    }
    assert.equal(await errors(h, 'HERALD_ERR_SUBSCRIPTION_REJECTED'), identifiers.length)
    c.send({ command: 'subscribe', identifier: signedIdentifier(good) })
    await c.waitForType('confirm_subscription')
    assert.equal(c.ws.readyState, WebSocket.OPEN, 'a rejection does not end the session')
    c.close()
  })

  test('a duplicate subscribe is ignored; unsubscribe has no reply and stops delivery', async () => {
    const h = await server({ publicStreams: true })
    const c = await WireClient.connect(h.wsUrl)
    await c.waitForType('welcome')
    const identifier = publicIdentifier('dup')
    c.send({ command: 'subscribe', identifier })
    c.send({ command: 'subscribe', identifier })
    await c.waitForType('confirm_subscription')
    await h.herald.publish('dup', 1)
    await c.waitFor((m) => m.message === 1)
    c.send({ command: 'unsubscribe', identifier })
    c.send({ command: 'ping' })
    await c.waitForType('pong')
    await h.herald.publish('dup', 2)
    c.send({ command: 'ping' })
    await c.waitFor((m) => m.type === 'pong' && c.messages.filter((x) => x.type === 'pong').length === 2)
    assert.deepEqual(c.data().map((m) => m.message), [1])
    assert.equal(c.messages.filter((m) => m.type === 'confirm_subscription').length, 1)
    c.close()
  })
})

describe('timeouts', () => {
  test('no input for inactivityTimeout: disconnect idle_timeout', async () => {
    const h = await server({ inactivityTimeout: 0.3, pingInterval: 0 })
    const c = await WireClient.connect(h.wsUrl)
    await c.waitForType('welcome')
    const { code, reason } = await c.closed(10_000)
    assert.equal(code, 1000)
    assert.equal(reason, 'idle_timeout')
    assert.deepEqual(c.messages.at(-1), { type: 'disconnect', reason: 'idle_timeout', reconnect: false })
    assert.equal(await metric(h.url, 'herald_disconnects_total', { reason: 'idle_timeout' }), 1)
  })

  test('WebSocket ping frames from the client count as input', async () => {
    const h = await server({ inactivityTimeout: 1.2, pingInterval: 0 }) // generous: a stalled event loop must not look like silence
    const pinging = await WireClient.connect(h.wsUrl)
    await pinging.waitForType('welcome')
    const timer = setInterval(() => pinging.ws.ping(), 50)
    try {
      // Two silent clients opened one after the other both time out while the pinging one, older than both, stays.
      for (let i = 0; i < 2; i++) {
        const silent = await WireClient.connect(h.wsUrl)
        await silent.waitForType('welcome')
        assert.equal((await silent.closed(10_000)).reason, 'idle_timeout')
      }
      assert.equal(pinging.ws.readyState, WebSocket.OPEN)
      assert.equal(pinging.closeCode, undefined)
    } finally {
      clearInterval(timer)
      pinging.close()
    }
  })

  test('open longer than maxLifetime: disconnect max_lifetime (reconnect allowed)', async () => {
    const h = await server({ maxLifetime: 0.3 })
    const c = await WireClient.connect(h.wsUrl)
    await c.waitForType('welcome')
    const { code, reason } = await c.closed(10_000)
    assert.equal(code, 1000)
    assert.equal(reason, 'max_lifetime')
    assert.deepEqual(c.messages.at(-1), { type: 'disconnect', reason: 'max_lifetime', reconnect: true })
    assert.equal(await metric(h.url, 'herald_disconnects_total', { reason: 'max_lifetime' }), 1)
  })

  test('server shutdown: disconnect server_restart, close 1001', async () => {
    const h = await startHerald()
    const c = await WireClient.connect(h.wsUrl)
    await c.waitForType('welcome')
    await h.close()
    const { code } = await c.closed()
    assert.equal(code, 1001)
    assert.deepEqual(c.messages.at(-1), { type: 'disconnect', reason: 'server_restart', reconnect: true })
  })
})
