import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { HeraldConfigInput } from '../../src/index.js'
import { HTTP_VERSIONS, openSocket, refusedStatus, type HttpVersion, type SocketOptions, type TestSocket } from '../support/clients.js'
import { startHerald, type TestHerald } from '../support/herald.js'
import { TcpRelay } from '../support/relay.js'
import { publishUntil, publicId } from '../support/wire.js'
import { metric, until } from '../support/util.js'

// README, "WebSocket": every row of the situation table, over HTTP/1.1 (an upgrade) and over
// HTTP/2 (RFC 8441 extended CONNECT). One row is one entry of ROWS; each runs on its own server.

interface Ctx {
  version: HttpVersion
  h: TestHerald
  open(options?: SocketOptions): Promise<TestSocket>
  /** Shuts the server down (the harness does not close it again). */
  shutdown(): Promise<void>
}

interface Row {
  /** The README's words, left column … */
  situation: string
  /** … and right column. */
  answer: string
  server: HeraldConfigInput
  check(ctx: Ctx): Promise<void>
}

const errors = (h: TestHerald, code: string) => metric(h.url, 'herald_errors_total', { code })
const disconnects = (h: TestHerald, reason: string) => metric(h.url, 'herald_disconnects_total', { reason })

async function welcomed(open: Promise<TestSocket>): Promise<TestSocket> {
  const s = await open
  await s.waitForType('welcome')
  return s
}

/** The socket is closed with `code`/`reason` after a `disconnect` message saying why; counted once. */
async function disconnectedWith(h: TestHerald, s: TestSocket, before: number, want: { reason: string; reconnect: boolean; code: number }) {
  const { code, reason } = await s.closed(10_000)
  assert.equal(code, want.code)
  assert.equal(reason, want.reason)
  assert.deepEqual(s.messages.at(-1), { type: 'disconnect', reason: want.reason, reconnect: want.reconnect })
  await until(async () => (await disconnects(h, want.reason)) > before, `${want.reason} counted`)
  assert.equal(await disconnects(h, want.reason), before + 1)
}

const ROWS: Row[] = [
  {
    situation: 'path other than --path', answer: '404', server: {},
    async check({ h, open }) {
      const before = await errors(h, 'HERALD_ERR_NOT_FOUND')
      assert.equal(await refusedStatus(open({ path: '/elsewhere' })), 404)
      assert.equal(await refusedStatus(open({ path: '/cable/deeper' })), 404)
      assert.equal(await errors(h, 'HERALD_ERR_NOT_FOUND'), before + 2)
      ;(await welcomed(open())).close() // the same request at --path is accepted
    },
  },
  {
    situation: 'Origin not in --allowed-origins', answer: '403', server: { allowedOrigins: 'https://app.example' },
    async check({ h, open }) {
      const before = await errors(h, 'HERALD_ERR_FORBIDDEN_ORIGIN')
      assert.equal(await refusedStatus(open({ headers: { origin: 'https://evil.example' } })), 403)
      assert.equal(await errors(h, 'HERALD_ERR_FORBIDDEN_ORIGIN'), before + 1)
      ;(await welcomed(open({ headers: { origin: 'https://app.example' } }))).close()
    },
  },
  {
    situation: 'more than --max-sessions sessions', answer: '503', server: { maxSessions: 1 },
    async check({ h, open }) {
      const first = await welcomed(open())
      const before = await errors(h, 'HERALD_ERR_TOO_MANY_SESSIONS')
      assert.equal(await refusedStatus(open()), 503)
      assert.equal(await errors(h, 'HERALD_ERR_TOO_MANY_SESSIONS'), before + 1)
      first.close()
      await until(() => h.herald.stats().connections.total === 0, 'the first session closed')
      ;(await welcomed(open())).close() // a freed place can be taken
    },
  },
  {
    situation: 'message over --max-message-size', answer: 'close 1009', server: { maxMessageSize: 1024 },
    async check({ h, open }) {
      const s = await welcomed(open())
      const [before, tooBig] = [await disconnects(h, 'message_too_big'), await errors(h, 'HERALD_ERR_MESSAGE_TOO_BIG')]
      s.send({ command: 'ping', pad: 'x'.repeat(1100) })
      assert.equal((await s.closed()).code, 1009)
      await until(async () => (await disconnects(h, 'message_too_big')) === before + 1, 'message_too_big counted')
      assert.equal(await errors(h, 'HERALD_ERR_MESSAGE_TOO_BIG'), tooBig + 1)
    },
  },
  {
    situation: 'text frame that is not UTF-8 (unless --ignore-encoding-errors)', answer: 'close 1007', server: {},
    async check({ h, open }) {
      const s = await welcomed(open())
      const before = await errors(h, 'HERALD_ERR_INVALID_UTF8')
      s.sendRaw('text', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]))
      assert.equal((await s.closed()).code, 1007)
      await until(async () => (await errors(h, 'HERALD_ERR_INVALID_UTF8')) === before + 1, 'counted')
    },
  },
  {
    situation: 'binary frame', answer: 'close 1003', server: {},
    async check({ h, open }) {
      const s = await welcomed(open())
      const before = await disconnects(h, 'unsupported_data')
      s.sendRaw('binary', Buffer.from('{"command":"ping"}'))
      await disconnectedWith(h, s, before, { reason: 'unsupported_data', reconnect: false, code: 1003 })
    },
  },
  {
    situation: 'malformed command', answer: '`disconnect` `invalid_command`, close 1008', server: {},
    async check({ h, open }) {
      const s = await welcomed(open())
      const before = await disconnects(h, 'invalid_command')
      s.send('{"command":"subscribe",')
      await disconnectedWith(h, s, before, { reason: 'invalid_command', reconnect: false, code: 1008 })
    },
  },
  {
    situation: 'reader behind its --outbox-bytes budget', answer: 'disconnected, reason `too_slow`',
    server: { publicStreams: true, outboxBytes: 64 * 1024, pingInterval: 0 },
    async check({ h, version }) {
      // Through a relay that stops reading: the server's socket buffers fill, then its outbox.
      const relay = await TcpRelay.to(h.url)
      try {
        const s = await welcomed(openSocket(version, relay.url))
        const { sid } = s.messages[0]
        s.send({ command: 'subscribe', identifier: publicId('firehose') })
        await s.waitForType('confirm_subscription')
        const [before, tooSlow] = [await disconnects(h, 'too_slow'), await errors(h, 'HERALD_ERR_TOO_SLOW')]
        relay.stall()
        await publishUntil(h, 'firehose', () => !h.herald.clients().some((c) => c.sid === sid), 'the server to drop the stalled reader')
        assert.equal(await disconnects(h, 'too_slow'), before + 1)
        assert.equal(await errors(h, 'HERALD_ERR_TOO_SLOW'), tooSlow + 1)
        // Reading again, the client finds the end, and no close frame before it (docs/errors.md).
        relay.resume()
        assert.deepEqual(await s.closed(10_000), { code: undefined, reason: undefined })
        assert.ok(!s.messages.some((m) => m.type === 'disconnect'), 'no disconnect message either')
      } finally {
        relay.close()
      }
    },
  },
  {
    situation: 'no input for --inactivity-timeout', answer: '`disconnect` `idle_timeout`', server: { inactivityTimeout: 0.3, pingInterval: 0 },
    async check({ h, open }) {
      const s = await welcomed(open())
      await disconnectedWith(h, s, await disconnects(h, 'idle_timeout'), { reason: 'idle_timeout', reconnect: false, code: 1000 })
    },
  },
  {
    situation: 'open longer than --max-lifetime', answer: '`disconnect` `max_lifetime`', server: { maxLifetime: 0.3 },
    async check({ h, open }) {
      const s = await welcomed(open())
      await disconnectedWith(h, s, await disconnects(h, 'max_lifetime'), { reason: 'max_lifetime', reconnect: true, code: 1000 })
    },
  },
  {
    situation: 'server shutdown', answer: '`disconnect` `server_restart` (reconnect), close 1001', server: {},
    async check({ open, shutdown }) {
      const s = await welcomed(open())
      await shutdown()
      const { code } = await s.closed()
      assert.equal(code, 1001)
      assert.deepEqual(s.messages.at(-1), { type: 'disconnect', reason: 'server_restart', reconnect: true })
    },
  },
]

for (const row of ROWS) {
  for (const version of HTTP_VERSIONS) {
    test(`WebSocket over HTTP/${version}: ${row.situation} → ${row.answer}`, async () => {
      const h = await startHerald(row.server)
      let down = false
      try {
        await row.check({
          version,
          h,
          open: (options) => openSocket(version, h.url, options),
          shutdown: async () => { down = true; await h.close() },
        })
      } finally {
        if (!down) await h.close()
      }
    })
  }
}
