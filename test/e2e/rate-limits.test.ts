import assert from 'node:assert/strict'
import { test } from 'node:test'
import { WebSocket } from 'ws'
import { openSocket, refusedStatus } from '../support/clients.js'
import { startHerald, WireClient } from '../support/herald.js'
import { metric, postJson } from '../support/util.js'

// Issue #13, rate limits of a public push server: new sessions per IP, commands per connection,
// publish and jobs API requests per key or IP. Each off by default; real clients on loopback.

/** The upgrade's status and Retry-After, or 101. */
function upgrade(url: string): Promise<{ status: number; retryAfter?: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, 'actioncable-v1-ext-json')
    ws.on('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode!, retryAfter: res.headers['retry-after'] as string | undefined })
      res.resume()
    })
    ws.on('open', () => { ws.terminate(); resolve({ status: 101 }) })
    ws.on('error', (err) => { if (!/Unexpected server response/.test(err.message)) reject(err) })
  })
}

test('--rate-connections-per-ip: past the burst a new WebSocket (h1 and h2), SSE stream or long-poll session gets 429 with Retry-After', async () => {
  const h = await startHerald({ publicStreams: true, rateConnectionsPerIp: 2 })
  try {
    // Burst of twice the rate: 4 sessions at once.
    for (let i = 0; i < 4; i++) assert.equal((await upgrade(h.wsUrl)).status, 101)
    const ws = await upgrade(h.wsUrl)
    assert.deepEqual(ws, { status: 429, retryAfter: '1' })
    assert.equal(await refusedStatus(openSocket('2', h.url)), 429)
    const sse = await fetch(`${h.url}/events?stream=r`)
    assert.equal(sse.status, 429)
    assert.equal(sse.headers.get('retry-after'), '1')
    assert.equal((await sse.json()).error.code, 'HERALD_ERR_RATE_LIMITED')
    const lp = await fetch(`${h.url}/lp`, { method: 'POST', body: '' })
    assert.equal(lp.status, 429)
    await lp.body?.cancel()
    assert.equal(await metric(h.url, 'herald_rate_limited_total', { limit: 'connections' }), 4)
    assert.equal(await metric(h.url, 'herald_errors_total', { code: 'HERALD_ERR_RATE_LIMITED' }), 4)
    // The bucket refills at the rate: a second later there is room again.
    await new Promise((r) => setTimeout(r, 1100))
    assert.equal((await upgrade(h.wsUrl)).status, 101)
  } finally {
    await h.close()
  }
})

test('--rate-commands-per-connection: a burst past it ends the connection with rate_limited (1008, reconnect allowed); the client may come back', async () => {
  const h = await startHerald({ publicStreams: true, rateCommandsPerConnection: 5 })
  try {
    const c = await WireClient.connect(h.wsUrl)
    await c.waitForType('welcome')
    // Ten (twice the rate) pass; the eleventh is over.
    for (let i = 0; i < 10; i++) c.send({ command: 'subscribe', identifier: JSON.stringify({ channel: '$pubsub', stream_name: `s${i}` }) })
    await c.waitFor((m) => m.type === 'confirm_subscription' && m.identifier.includes('s9'))
    c.send({ command: 'subscribe', identifier: JSON.stringify({ channel: '$pubsub', stream_name: 'one-too-many' }) })
    const { code } = await c.closed()
    assert.equal(code, 1008)
    assert.deepEqual(c.messages.at(-1), { type: 'disconnect', reason: 'rate_limited', reconnect: true })
    assert.equal(await metric(h.url, 'herald_rate_limited_total', { limit: 'commands' }), 1)
    assert.equal(await metric(h.url, 'herald_disconnects_total', { reason: 'rate_limited' }), 1)
    const again = await WireClient.connect(h.wsUrl)
    await again.waitForType('welcome')
    again.ws.close()
  } finally {
    await h.close()
  }
})

test('--rate-api-requests: publish and jobs API requests per key, or per IP without one: 429 with Retry-After past the burst', async () => {
  const h = await startHerald({ rateApiRequests: 2, broadcastKey: 'k1' })
  try {
    const publish = (key: string) => postJson(`${h.url}/_broadcast`, { stream: 's', data: '{}' }, { authorization: `Bearer ${key}` })
    assert.deepEqual(await Promise.all([publish('k1'), publish('k1'), publish('k1'), publish('k1')]).then((r) => r.map((x) => x.status)), [201, 201, 201, 201])
    const over = await publish('k1')
    assert.equal(over.status, 429)
    assert.equal(over.headers.get('retry-after'), '1')
    assert.match(over.body.error.message, /--rate-api-requests/)
    // Another key has its own budget (it is refused for the key, not the rate).
    assert.equal((await publish('k2')).status, 401)
    // Without a key: per IP, across the jobs API.
    const starts = []
    for (let i = 0; i < 5; i++) starts.push((await postJson(`${h.url}/jobs`, { type: 'external' })).status)
    assert.deepEqual(starts, [201, 201, 201, 201, 429])
    assert.equal(await metric(h.url, 'herald_rate_limited_total', { limit: 'api' }), 2)
  } finally {
    await h.close()
  }
  const off = await startHerald()
  try {
    const all = await Promise.all(Array.from({ length: 50 }, () => postJson(`${off.url}/_broadcast`, { stream: 's', data: '{}' })))
    assert.ok(all.every((r) => r.status === 201), 'no limit by default')
  } finally {
    await off.close()
  }
})
