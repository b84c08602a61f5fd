import assert from 'node:assert/strict'
import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { once } from 'node:events'
import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { exportJWK, SignJWT } from 'jose'
import { JwtVerifier, type JwtOptions } from '../../src/auth/jwt.js'
import { jwt } from '../support/wire.js'

// Issue #13: the verifier is jose's, with strict claims. Each case here passed the hand-written
// verifier it replaced (a non-numeric exp was ignored, a non-canonical signature accepted).
const SECRET = 'claims-jwt-secret'
const NOW_MS = 1_800_000_000_000
const NOW = NOW_MS / 1000
const options = (o: Partial<JwtOptions> = {}): JwtOptions =>
  ({ secret: SECRET, publicKey: '', jwksUrl: '', audience: '', issuer: '', clockToleranceMs: 0, ...o })
const verify = (token: string, o?: Partial<JwtOptions>) => new JwtVerifier(options(o)).verify(token, NOW_MS)

const refused: [string, Record<string, unknown>, RegExp][] = [
  ['exp as a string (never expired before)', { exp: String(NOW - 10) }, /claim exp/],
  ['exp as a string of the future', { exp: String(NOW + 3600) }, /claim exp/],
  ['exp as null', { exp: null }, /claim exp/],
  ['exp as an object', { exp: { at: NOW + 60 } }, /claim exp/],
  ['nbf as a string', { nbf: String(NOW - 10) }, /claim nbf/],
  ['iat as a string', { iat: 'yesterday' }, /claim iat/],
]
for (const [what, claims, why] of refused) {
  test(`refused: ${what}`, async () => {
    const v = await verify(jwt(claims, SECRET))
    assert.equal(v.ok, false)
    assert.match((v as { why: string }).why, why)
  })
}

test('a signature in a non-canonical base64url encoding (stray low bits) is refused', async () => {
  const token = jwt({ sub: 'x' }, SECRET)
  assert.equal((await verify(token)).ok, true)
  // The last character of a 43-character HS256 signature carries 2 unused bits: flipping them
  // decodes to the same bytes, so a lenient decoder would accept the copy.
  const sig = token.split('.')[2]
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  const last = alphabet.indexOf(sig.at(-1)!)
  const twin = `${token.slice(0, -1)}${alphabet[last ^ 1]}`
  assert.deepEqual(Buffer.from(twin.split('.')[2], 'base64url'), Buffer.from(sig, 'base64url'))
  assert.deepEqual(await verify(twin), { ok: false, why: 'not canonical base64url' })
  assert.equal((await verify(`${token}=`)).ok, false)
})

test('clock tolerance: an exp a few seconds past passes within the tolerance, not without it', async () => {
  const token = jwt({ exp: NOW - 5 }, SECRET)
  assert.equal((await verify(token)).ok, false)
  assert.equal((await verify(token, { clockToleranceMs: 10_000 })).ok, true)
  assert.equal((await verify(token, { clockToleranceMs: 4_000 })).ok, false)
  const early = jwt({ nbf: NOW + 5 }, SECRET)
  assert.equal((await verify(early, { clockToleranceMs: 10_000 })).ok, true)
})

test('aud and iss, when configured, must match', async () => {
  const o = { audience: 'herald', issuer: 'https://id.example' }
  assert.equal((await verify(jwt({ aud: 'herald', iss: 'https://id.example' }, SECRET), o)).ok, true)
  assert.equal((await verify(jwt({ aud: ['other', 'herald'], iss: 'https://id.example' }, SECRET), o)).ok, true)
  for (const claims of [{ aud: 'other', iss: 'https://id.example' }, { aud: 'herald', iss: 'https://evil.example' }, { iss: 'https://id.example' }, { aud: 'herald' }]) {
    const v = await verify(jwt(claims, SECRET), o)
    assert.equal(v.ok, false, JSON.stringify(claims))
    assert.match((v as { why: string }).why, /claim (aud|iss)/)
  }
})

test('without a secret, HMAC tokens are refused (only the public-key algorithms are allowed)', async () => {
  const { publicKey } = await import('node:crypto').then((c) => c.generateKeyPairSync('ec', { namedCurve: 'P-256' }))
  const v = await verify(jwt({}, SECRET), { secret: '', publicKey: publicKey.export({ type: 'spki', format: 'pem' }) as string })
  assert.deepEqual(v, { ok: false, why: 'algorithm "HS256" not allowed' })
})

describe('the reason logged for a refused public-key token (the client hears only unauthorized)', () => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const sign = (alg: string, key: KeyObject, kid?: string) =>
    new SignJWT({}).setProtectedHeader({ alg, ...(kid ? { kid } : {}) }).setIssuedAt(NOW).setExpirationTime(NOW + 3600).sign(key)
  let server: Server
  let jwksUrl = ''
  let silentUrl = ''
  const held: ServerResponse[] = []
  before(async () => {
    const jwk = { ...(await exportJWK(ec.publicKey)), kid: 'k1', alg: 'ES256' }
    server = createServer((req, res) => {
      if (req.url === '/silent') return void held.push(res) // never answers
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ keys: [jwk] }))
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const { port } = server.address() as AddressInfo
    jwksUrl = `http://127.0.0.1:${port}/jwks`
    silentUrl = `http://127.0.0.1:${port}/silent`
  })
  after(async () => {
    for (const res of held) res.destroy()
    server.close()
    await once(server, 'close')
  })

  test('a token no key of the JWKS matches', async () => {
    const v = await verify(await sign('ES256', other.privateKey, 'k2'), { secret: '', jwksUrl })
    assert.deepEqual(v, { ok: false, why: 'no key of the JWKS matches the token' })
  })

  test('a JWKS URL that does not answer in time', async () => {
    const v = await verify(await sign('ES256', ec.privateKey, 'k1'), { secret: '', jwksUrl: silentUrl, jwksTimeoutMs: 200 })
    assert.deepEqual(v, { ok: false, why: 'the JWKS URL did not answer in time' })
  })

  test('a token the JWKS key verifies is accepted', async () => {
    const v = await verify(await sign('ES256', ec.privateKey, 'k1'), { secret: '', jwksUrl })
    assert.equal(v.ok, true)
  })

  test("an RS256 token against an EC public key: jose's own reason (a key of the wrong type for the algorithm)", async () => {
    const v = await verify(await sign('RS256', rsa.privateKey), { secret: '', publicKey: ec.publicKey.export({ type: 'spki', format: 'pem' }) as string })
    assert.equal(v.ok, false)
    assert.match((v as { why: string }).why, /^Invalid or unsupported .*Algorithm/)
  })

  test('a token that is not a string is no compact JWT', async () => {
    assert.deepEqual(await new JwtVerifier(options()).verify(42 as unknown as string), { ok: false, why: 'not a compact JWT' })
  })
})
