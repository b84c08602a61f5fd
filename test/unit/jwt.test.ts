import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { test } from 'node:test'
import { verifyJwt } from '../../src/auth/jwt.js'
import { jwt } from '../support/wire.js'

// README: "an HS256/384/512 JWT …; exp/nbf are checked and other claims (ext) are ignored".
// Tokens are made by the test's own signer (support/wire.ts), not by src/.
const SECRET = 'unit-jwt-secret'
const NOW_MS = 1_800_000_000_000
const NOW = NOW_MS / 1000

const verdict = (token: string) => verifyJwt(token, SECRET, NOW_MS)
const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')
/** Any header and payload (strings as they are), with a valid HS256 signature. */
const signed = (header: unknown, payload: unknown) => {
  const data = `${b64(header)}.${b64(payload)}`
  return `${data}.${createHmac('sha256', SECRET).update(data).digest('base64url')}`
}

for (const alg of ['HS256', 'HS384', 'HS512']) {
  test(`${alg} with the secret is accepted and its claims returned as they are`, async () => {
    const claims = { ext: '{"user":1}', sub: 'x', exp: NOW + 60, nbf: NOW - 60 }
    assert.deepEqual(await verdict(jwt(claims, SECRET, alg)), { ok: true, claims })
  })

  test(`${alg} signed with another secret is refused`, async () => {
    assert.equal((await verdict(jwt({}, 'another secret', alg))).ok, false)
  })
}

// Each refusal for its own reason, so a token refused for another one (a bad signature) cannot pass.
const refused: [string, string, RegExp][] = [
  ['alg "none" without a signature', `${b64({ alg: 'none', typ: 'JWT' })}.${b64({})}.`, /algorithm "none"/],
  ['alg RS256 (HMAC-signed all the same)', jwt({}, SECRET, 'RS256', 'sha256'), /algorithm "RS256"/],
  ['alg HS1', jwt({}, SECRET, 'HS1', 'sha1'), /algorithm "HS1"/],
  ['alg spelled in lower case', jwt({}, SECRET, 'hs256', 'sha256'), /algorithm "hs256"/],
  ['no alg at all', signed({ typ: 'JWT' }, {}), /algorithm ""/],
  ['a header that claims HS512 over an HS256 signature', jwt({}, SECRET, 'HS512', 'sha256'), /bad signature/],
  ['exp in the past', jwt({ exp: NOW - 1 }, SECRET), /expired/],
  ['exp exactly now (RFC 7519 §4.1.4: on or after exp it must not be accepted)', jwt({ exp: NOW }, SECRET), /expired/],
  ['nbf in the future', jwt({ nbf: NOW + 30 }, SECRET), /not yet valid/],
  ['two parts', jwt({}, SECRET).split('.').slice(0, 2).join('.'), /not a compact JWT/],
  ['four parts', `${jwt({}, SECRET)}.x`, /not a compact JWT/],
  ['a correctly signed payload that is a JSON array', signed({ alg: 'HS256', typ: 'JWT' }, [1, 2]), /payload is not a JSON object/],
  ['a correctly signed payload that is not JSON', signed({ alg: 'HS256', typ: 'JWT' }, 'not json'), /payload is not a JSON object/],
  ['a header that is not JSON', `${b64('not json')}.${b64({})}.sig`, /algorithm ""/],
  ['an empty string', '', /not a compact JWT/],
]
for (const [what, token, why] of refused) {
  test(`refused: ${what}`, async () => {
    const v = await verdict(token)
    assert.equal(v.ok, false)
    assert.match((v as { why: string }).why, why)
  })
}

test('nbf now or in the past and exp in the future are accepted', async () => {
  assert.equal((await verdict(jwt({ nbf: NOW }, SECRET))).ok, true)
  assert.equal((await verdict(jwt({ nbf: NOW - 3600, exp: NOW + 1 }, SECRET))).ok, true)
})
