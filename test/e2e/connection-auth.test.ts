import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { openSocket } from '../support/clients.js'
import { startHerald, type TestHerald } from '../support/herald.js'
import { jwt } from '../support/wire.js'

// README, "Connection auth": with --jwt-secret every session needs an HS256/384/512 JWT in ?jid=
// or the X-JID header; exp/nbf are checked. Each kind of token, through each carrier, on SSE
// (401 or 200) and on a WebSocket (welcome, or disconnect unauthorized). The verifier's other
// cases are in test/unit/jwt.test.ts.
const SECRET = 'e2e-jwt-secret'
const inAnHour = () => Math.floor(Date.now() / 1000) + 3600

const TOKENS: { what: string; token: () => string; accepted: boolean }[] = [
  { what: 'an HS384 token', token: () => jwt({ ext: '{"user":1}' }, SECRET, 'HS384'), accepted: true },
  { what: 'an HS512 token', token: () => jwt({ ext: '{"user":1}' }, SECRET, 'HS512'), accepted: true },
  { what: 'a token whose nbf is in the future', token: () => jwt({ nbf: inAnHour() }, SECRET, 'HS256'), accepted: false },
  { what: 'a token with alg RS256 (outside HS256/384/512)', token: () => jwt({}, SECRET, 'RS256', 'sha256'), accepted: false },
  { what: 'a token with alg none', token: () => jwt({}, SECRET, 'none', 'sha256').replace(/[^.]+$/, ''), accepted: false },
]

let h: TestHerald
before(async () => { h = await startHerald({ publicStreams: true, jwtSecret: SECRET }) })
after(() => h.close())

for (const { what, token, accepted } of TOKENS) {
  for (const carrier of ['?jid=', 'X-JID'] as const) {
    const place = (path: string): { path: string; headers: Record<string, string> } => {
      const t = token()
      return carrier === '?jid=' ? { path: `${path}${path.includes('?') ? '&' : '?'}jid=${encodeURIComponent(t)}`, headers: {} } : { path, headers: { 'x-jid': t } }
    }

    test(`SSE: ${what} in ${carrier} is ${accepted ? 'accepted (200)' : 'refused (401)'}`, async () => {
      const { path, headers } = place('/events?stream=auth')
      const res = await fetch(`${h.url}${path}`, { headers })
      assert.equal(res.status, accepted ? 200 : 401)
      if (!accepted) assert.equal((await res.json()).error.code, 'HERALD_ERR_UNAUTHORIZED')
      else await res.body?.cancel()
    })

    test(`WebSocket: ${what} in ${carrier} ${accepted ? 'gets a welcome' : 'gets disconnect unauthorized'}`, async () => {
      const { path, headers } = place('/cable')
      const s = await openSocket('1.1', h.url, { path, headers })
      if (accepted) {
        await s.waitForType('welcome')
        s.close()
      } else {
        await s.closed()
        assert.deepEqual(s.messages, [{ type: 'disconnect', reason: 'unauthorized', reconnect: false }])
      }
    })
  }
}
