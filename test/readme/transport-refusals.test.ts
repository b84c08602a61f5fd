import assert from 'node:assert/strict'
import { test } from 'node:test'
import { signStream, type HeraldConfigInput } from '../../src/index.js'
import { exchange, HTTP_VERSIONS, openSocket, type Exchange, type ExchangeRequest, type HttpVersion } from '../support/clients.js'
import { startHerald, type TestHerald } from '../support/herald.js'
import { jwt, publicId, signedId, subscribeLine } from '../support/wire.js'
import { metric, postJson, until } from '../support/util.js'

// README, "Transports": the table of refusals (no valid token 401, rejected subscription or bad
// parameter 400 / reject_subscription, unknown job 404, Origin 403), plus the session limit (503,
// docs/errors.md), for every HTTP transport over HTTP/1.1 and HTTP/2. Each refusal is checked
// beside the same request made acceptable, and counted once in herald_errors_total. A transport
// is one entry of TRANSPORTS, a refusal one entry of REFUSALS.

const STREAMS_SECRET = 'readme-streams'
const JWT_SECRET = 'readme-jwt'
const STREAM = 'readme/stream'
const SIGNED = signStream(STREAM, STREAMS_SECRET)

/** What a request follows: the signed stream (or, to be rejected, the unsigned name) and a job. */
interface Target {
  stream: 'signed' | 'unsigned'
  job: string
}

type Column = 'SSE / NDJSON' | 'long poll' | 'job poll'

interface Transport {
  name: string
  column: Column
  /** A long response: a 200 is dropped once its headers arrive. */
  streaming: boolean
  request(target: Target, query?: string, headers?: Record<string, string>): ExchangeRequest
  /** A request with a missing or bad parameter, where the transport has parameters. */
  badParameter?(target: Target): ExchangeRequest
}

const q = (path: string, ...parts: (string | undefined)[]) => {
  const query = parts.filter(Boolean).join('&')
  return query ? `${path}${path.includes('?') ? '&' : '?'}${query}` : path
}
const streamParam = (t: Target) => (t.stream === 'signed' ? `signed_stream=${encodeURIComponent(SIGNED)}` : `stream=${encodeURIComponent(STREAM)}`)
const streamId = (t: Target) => (t.stream === 'signed' ? signedId(SIGNED) : publicId(STREAM))

const TRANSPORTS: Transport[] = [
  {
    name: 'SSE GET /events', column: 'SSE / NDJSON', streaming: true,
    request: (t, query, headers) => ({ path: q('/events', streamParam(t), query), headers }),
    badParameter: () => ({ path: '/events' }), // no stream named
  },
  {
    name: 'SSE POST /events', column: 'SSE / NDJSON', streaming: true,
    request: (t, query, headers) => ({ method: 'POST', path: q('/events', query), headers, body: subscribeLine(streamId(t)) }),
    badParameter: () => ({ method: 'POST', path: '/events', body: '' }), // no subscribe line
  },
  {
    name: 'SSE GET /jobs/:id/events', column: 'SSE / NDJSON', streaming: true,
    request: (t, query, headers) => ({ path: q(`/jobs/${t.job}/events`, query), headers }),
    badParameter: (t) => ({ path: `/jobs/${t.job}/events`, headers: { 'last-event-id': 'not-a-position' } }),
  },
  {
    name: 'NDJSON GET /stream', column: 'SSE / NDJSON', streaming: true,
    request: (t, query, headers) => ({ path: q('/stream', streamParam(t), query), headers }),
    badParameter: (t) => ({ path: q('/stream', streamParam(t), 'after=3') }), // after without epoch
  },
  {
    name: 'NDJSON GET /jobs/:id/stream', column: 'SSE / NDJSON', streaming: true,
    request: (t, query, headers) => ({ path: q(`/jobs/${t.job}/stream`, query), headers }),
    badParameter: (t) => ({ path: `/jobs/${t.job}/stream?after=soon&epoch=x` }),
  },
  {
    name: 'long poll POST /lp', column: 'long poll', streaming: false,
    request: (t, query, headers) => ({ method: 'POST', path: q('/lp', query), headers, body: subscribeLine(streamId(t)) }),
  },
  {
    name: 'job poll GET /jobs/:id/poll', column: 'job poll', streaming: false,
    request: (t, query, headers) => ({ path: q(`/jobs/${t.job}/poll`, 'timeout=0', query), headers }),
    badParameter: (t) => ({ path: `/jobs/${t.job}/poll?after=-1` }),
  },
]

const lines = (x: Exchange) => x.body.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l))

/** The transport took the request: a long response opened, a long-poll session with its confirmation, a job poll's 204. */
function assertAccepted(t: Transport, x: Exchange, what: string): void {
  if (t.column === 'long poll') {
    assert.equal(x.status, 200, what)
    assert.match(String(x.headers['x-anycable-poll-id']), /^[\w-]{22,}$/, what)
    assert.deepEqual(lines(x).map((l) => l.type), ['welcome', 'confirm_subscription'], what)
  } else {
    assert.equal(x.status, t.column === 'job poll' ? 204 : 200, `${what}: ${x.body}`)
  }
}

/** A refusal as an HTTP error answer: the status and `{"error":{"code"}}`. */
function assertError(x: Exchange, status: number, code: string): void {
  assert.equal(x.status, status, x.body)
  assert.equal(x.json?.error?.code, code, x.body)
}

interface Ctx {
  version: HttpVersion
  h: TestHerald
  target: Target
  send(req: ExchangeRequest): Promise<Exchange>
  counted(code: string, run: () => Promise<void>): Promise<void>
}

interface Refusal {
  /** The README's words. */
  situation: string
  server: HeraldConfigInput
  /** Transports this row applies to (the README's "—" leaves one out). */
  applies(t: Transport): boolean
  check(t: Transport, ctx: Ctx): Promise<void>
}

const REFUSALS: Refusal[] = [
  {
    situation: 'no valid token under --jwt-secret', server: { jwtSecret: JWT_SECRET },
    applies: () => true,
    async check(t, { send, target, counted }) {
      await counted('HERALD_ERR_UNAUTHORIZED', async () => {
        const x = await send(t.request(target))
        if (t.column !== 'long poll') return assertError(x, 401, 'HERALD_ERR_UNAUTHORIZED')
        assert.equal(x.status, 401)
        assert.equal(x.headers['x-anycable-poll-id'], undefined, 'no session opened')
        assert.deepEqual(lines(x), [{ type: 'disconnect', reason: 'unauthorized', reconnect: false }])
      })
      assertAccepted(t, await send(t.request(target, `jid=${jwt({}, JWT_SECRET)}`)), 'with a token in ?jid=')
    },
  },
  {
    situation: 'rejected subscription', server: {},
    applies: (t) => !t.name.includes('/jobs/'), // a job's stream is signed by the server itself
    async check(t, { send, target, counted }) {
      const unsigned = { ...target, stream: 'unsigned' as const }
      await counted('HERALD_ERR_SUBSCRIPTION_REJECTED', async () => {
        const x = await send(t.request(unsigned))
        if (t.column !== 'long poll') return assertError(x, 400, 'HERALD_ERR_SUBSCRIPTION_REJECTED')
        // A long poll answers with the protocol's rejection; its session stays open.
        assert.equal(x.status, 200)
        assert.deepEqual(lines(x).map((l) => l.type), ['welcome', 'reject_subscription'])
        assert.equal(lines(x)[1].identifier, publicId(STREAM))
        const again = await send({ method: 'POST', path: '/lp', headers: { 'x-anycable-poll-id': String(x.headers['x-anycable-poll-id']) }, body: subscribeLine(signedId(SIGNED)) })
        assert.deepEqual(lines(again).map((l) => l.type), ['confirm_subscription'], 'the same session subscribes to a signed stream')
      })
      assertAccepted(t, await send(t.request(target)), 'the signed stream')
    },
  },
  {
    situation: 'missing or bad parameter', server: {},
    applies: (t) => t.badParameter !== undefined,
    async check(t, { send, target, counted }) {
      await counted('HERALD_ERR_BAD_REQUEST', async () => assertError(await send(t.badParameter!(target)), 400, 'HERALD_ERR_BAD_REQUEST'))
      assertAccepted(t, await send(t.request(target)), 'with good parameters')
    },
  },
  {
    situation: 'unknown job', server: {},
    applies: (t) => t.name.includes('/jobs/'),
    async check(t, { send, target, counted }) {
      await counted('HERALD_ERR_NOT_FOUND', async () => assertError(await send(t.request({ ...target, job: 'no-such-job' })), 404, 'HERALD_ERR_NOT_FOUND'))
      assertAccepted(t, await send(t.request(target)), 'a known job')
    },
  },
  {
    situation: 'Origin not in --allowed-origins', server: { allowedOrigins: 'https://app.example' },
    applies: () => true,
    async check(t, { send, target, counted }) {
      await counted('HERALD_ERR_FORBIDDEN_ORIGIN', async () =>
        assertError(await send(t.request(target, undefined, { origin: 'https://evil.example' })), 403, 'HERALD_ERR_FORBIDDEN_ORIGIN'))
      const ok = await send(t.request(target, undefined, { origin: 'https://app.example' }))
      assertAccepted(t, ok, 'an allowed origin')
      assert.equal(ok.headers['access-control-allow-origin'], 'https://app.example')
    },
  },
  {
    situation: 'more than --max-sessions sessions (503)', server: { maxSessions: 1 },
    applies: () => true,
    async check(t, { send, target, counted, h, version }) {
      const holder = await openSocket(version, h.url)
      await holder.waitForType('welcome')
      await counted('HERALD_ERR_TOO_MANY_SESSIONS', async () => assertError(await send(t.request(target)), 503, 'HERALD_ERR_TOO_MANY_SESSIONS'))
      holder.close()
      await until(() => h.herald.stats().connections.total === 0, 'the place freed')
      assertAccepted(t, await send(t.request(target)), 'once a place is free')
    },
  },
]

for (const refusal of REFUSALS) {
  for (const t of TRANSPORTS.filter((x) => refusal.applies(x))) {
    for (const version of HTTP_VERSIONS) {
      test(`${t.name} over HTTP/${version}: ${refusal.situation}`, async () => {
        const h = await startHerald({ streamsSecret: STREAMS_SECRET, ...refusal.server })
        try {
          const job = await postJson(`${h.url}/jobs`, { type: 'external' })
          assert.equal(job.status, 201)
          await refusal.check(t, {
            version, h,
            target: { stream: 'signed', job: job.body.id },
            send: (req) => exchange(version, h.url, req, t.streaming),
            async counted(code, run) {
              const before = await metric(h.url, 'herald_errors_total', { code })
              await run()
              assert.equal(await metric(h.url, 'herald_errors_total', { code }), before + 1, `${code} counted once`)
            },
          })
        } finally {
          await h.close()
        }
      })
    }
  }
}

// The WebSocket's answers to the two rows its own table leaves out.
for (const version of HTTP_VERSIONS) {
  test(`WebSocket over HTTP/${version}: no valid token under --jwt-secret → disconnect unauthorized, no welcome`, async () => {
    const h = await startHerald({ jwtSecret: JWT_SECRET })
    try {
      const before = await metric(h.url, 'herald_errors_total', { code: 'HERALD_ERR_UNAUTHORIZED' })
      const s = await openSocket(version, h.url)
      await s.closed()
      assert.deepEqual(s.messages, [{ type: 'disconnect', reason: 'unauthorized', reconnect: false }])
      assert.equal(await metric(h.url, 'herald_errors_total', { code: 'HERALD_ERR_UNAUTHORIZED' }), before + 1)
      const ok = await openSocket(version, h.url, { path: `/cable?jid=${jwt({}, JWT_SECRET)}` })
      await ok.waitForType('welcome')
      ok.close()
    } finally {
      await h.close()
    }
  })

  test(`WebSocket over HTTP/${version}: rejected subscription → reject_subscription, the session stays`, async () => {
    const h = await startHerald({ streamsSecret: STREAMS_SECRET })
    try {
      const before = await metric(h.url, 'herald_errors_total', { code: 'HERALD_ERR_SUBSCRIPTION_REJECTED' })
      const s = await openSocket(version, h.url)
      await s.waitForType('welcome')
      s.send({ command: 'subscribe', identifier: publicId(STREAM) })
      const { reason, ...reply } = await s.waitForType('reject_subscription')
      assert.deepEqual(reply, { type: 'reject_subscription', identifier: publicId(STREAM) })
      assert.match(reason, /public streams are disabled/, 'the reason, a field AnyCable clients ignore')
      assert.equal(await metric(h.url, 'herald_errors_total', { code: 'HERALD_ERR_SUBSCRIPTION_REJECTED' }), before + 1)
      s.send({ command: 'subscribe', identifier: signedId(SIGNED) })
      await s.waitForType('confirm_subscription')
      s.close()
    } finally {
      await h.close()
    }
  })
}
