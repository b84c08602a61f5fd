import assert from 'node:assert/strict'
import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { once } from 'node:events'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { exportJWK, SignJWT } from 'jose'
import { WebSocket } from 'ws'
import { openSocket } from '../support/clients.js'
import { startHerald, type TestHerald } from '../support/herald.js'
import { jwt } from '../support/wire.js'

// README, "Connection auth": RS256 with a PEM public key (a file or inline), ES256 with a JWKS
// URL, aud/iss, and the token as a `jid.<token>` WebSocket subprotocol that is never echoed.
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const otherEc = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const pem = (k: KeyObject) => k.export({ type: 'spki', format: 'pem' }) as string
const sign = (alg: string, key: KeyObject, claims: Record<string, unknown> = {}, kid?: string) =>
  new SignJWT(claims).setProtectedHeader({ alg, ...(kid ? { kid } : {}) }).setIssuedAt().setExpirationTime('1h').sign(key)

/** SSE's status for `token` in ?jid=. */
async function sseStatus(h: TestHerald, token: string): Promise<number> {
  const res = await fetch(`${h.url}/events?stream=jwt&jid=${encodeURIComponent(token)}`)
  await res.body?.cancel()
  return res.status
}

/** welcome, or disconnect:<reason>, of a WebSocket with `token` in ?jid=. */
async function wsOutcome(h: TestHerald, token: string): Promise<string> {
  const s = await openSocket('1.1', h.url, { path: `/cable?jid=${encodeURIComponent(token)}` })
  const m = await s.waitFor((x) => x.type === 'welcome' || x.type === 'disconnect')
  s.close()
  return m.type === 'welcome' ? 'welcome' : `disconnect:${m.reason}`
}

let dir: string
before(() => { dir = mkdtempSync(join(tmpdir(), 'herald-jwt-')) })
after(() => rmSync(dir, { recursive: true, force: true }))

test('RS256 with --jwt-public-key as a PEM file, and ES256 with the PEM inline', async () => {
  const file = join(dir, 'rsa.pem')
  writeFileSync(file, pem(rsa.publicKey))
  const h = await startHerald({ publicStreams: true, jwtPublicKey: file })
  try {
    assert.equal(await sseStatus(h, await sign('RS256', rsa.privateKey)), 200)
    assert.equal(await wsOutcome(h, await sign('RS256', rsa.privateKey)), 'welcome')
    const forged = await sign('RS256', generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey)
    assert.equal(await sseStatus(h, forged), 401)
    assert.equal(await wsOutcome(h, forged), 'disconnect:unauthorized')
    // No --jwt-secret: an HMAC token is refused, even one signed with the public key's text.
    assert.equal(await sseStatus(h, jwt({}, pem(rsa.publicKey))), 401)
  } finally {
    await h.close()
  }
  const h2 = await startHerald({ publicStreams: true, jwtPublicKey: pem(ec.publicKey) })
  try {
    assert.equal(await sseStatus(h2, await sign('ES256', ec.privateKey)), 200)
    assert.equal(await sseStatus(h2, await sign('ES256', otherEc.privateKey)), 401)
  } finally {
    await h2.close()
  }
})

test('ES256 with --jwt-jwks-url (a JWKS served on loopback), with --jwt-audience and --jwt-issuer', async () => {
  let fetches = 0
  const jwk = { ...(await exportJWK(ec.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }
  const jwks: Server = createServer((_req, res) => {
    fetches++
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ keys: [jwk] }))
  })
  jwks.listen(0, '127.0.0.1')
  await once(jwks, 'listening')
  const { port } = jwks.address() as { port: number }
  const h = await startHerald({
    publicStreams: true, jwtJwksUrl: `http://127.0.0.1:${port}/.well-known/jwks.json`, jwtAudience: 'herald', jwtIssuer: 'https://id.test',
  })
  try {
    const good = { aud: 'herald', iss: 'https://id.test' }
    assert.equal(await sseStatus(h, await sign('ES256', ec.privateKey, good, 'k1')), 200)
    assert.equal(await wsOutcome(h, await sign('ES256', ec.privateKey, good, 'k1')), 'welcome')
    assert.equal(await sseStatus(h, await sign('ES256', ec.privateKey, { ...good, aud: 'other' }, 'k1')), 401)
    assert.equal(await sseStatus(h, await sign('ES256', ec.privateKey, { ...good, iss: 'https://evil.test' }, 'k1')), 401)
    assert.equal(await sseStatus(h, await sign('ES256', otherEc.privateKey, good, 'k1')), 401)
    // The JWKS is fetched once and cached, not once per connection.
    assert.equal(fetches, 1)
  } finally {
    await h.close()
    jwks.close()
  }
})

test('a jid.<token> subprotocol authenticates a WebSocket (h1 and h2) and is never the selected protocol', async () => {
  const secret = 'subprotocol-secret'
  const h = await startHerald({ publicStreams: true, jwtSecret: secret })
  try {
    const token = jwt({ sub: 'browser' }, secret)
    const ws = new WebSocket(h.wsUrl, ['actioncable-v1-ext-json', `jid.${token}`])
    const first = await new Promise<any>((resolve, reject) => {
      ws.once('message', (d) => resolve(JSON.parse(d.toString())))
      ws.once('error', reject)
    })
    assert.equal(first.type, 'welcome')
    assert.equal(ws.protocol, 'actioncable-v1-ext-json')
    ws.close()
    // The token first in the list: still not echoed.
    const s = await openSocket('2', h.url, { protocol: `jid.${token}, actioncable-v1-ext-json` })
    await s.waitForType('welcome')
    s.close()
    // A wrong token in the subprotocol: disconnect unauthorized.
    const bad = new WebSocket(h.wsUrl, ['actioncable-v1-ext-json', `jid.${jwt({}, 'wrong')}`])
    const heard: unknown[] = []
    bad.on('message', (d) => heard.push(JSON.parse(d.toString())))
    await once(bad, 'close')
    assert.deepEqual(heard, [{ type: 'disconnect', reason: 'unauthorized', reconnect: false }])
  } finally {
    await h.close()
  }
})

test('a token is verified once per session: one WebSocket, one SSE stream, one long-poll session of several polls', async () => {
  const secret = 'once-secret'
  const h = await startHerald({ publicStreams: true, jwtSecret: secret, pollInterval: 0.2 })
  const core = h.herald.core
  const authenticate = core.authenticate.bind(core)
  let calls = 0
  core.authenticate = (request) => { calls++; return authenticate(request) }
  try {
    const token = jwt({}, secret)
    assert.equal(await wsOutcome(h, token), 'welcome')
    assert.equal(calls, 1, 'the WebSocket')
    assert.equal(await sseStatus(h, token), 200)
    assert.equal(calls, 2, 'the SSE stream')
    const first = await fetch(`${h.url}/lp?jid=${token}`, { method: 'POST', body: '' })
    assert.equal(first.status, 200)
    const pollId = first.headers.get('x-anycable-poll-id')!
    await first.text()
    for (let i = 0; i < 2; i++) {
      const poll = await fetch(`${h.url}/lp?jid=${token}`, { method: 'POST', body: '', headers: { 'x-anycable-poll-id': pollId } })
      assert.equal(poll.status, 200)
      await poll.text()
    }
    assert.equal(calls, 3, 'the long-poll session, whatever its polls')
  } finally {
    await h.close()
  }
})
