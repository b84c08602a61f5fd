import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { test } from 'node:test'
import fc from 'fast-check'
import { JwtVerifier } from '../../src/auth/jwt.js'
import { jwt } from '../support/wire.js'

// Issue #13: whatever a client sends as a token, the verifier answers with a verdict (a refusal
// with a reason, or the claims of a valid token): it never throws, never rejects, never hangs.
const SECRET = 'property-jwt-secret'
const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const verifiers = [
  new JwtVerifier({ secret: SECRET, publicKey: '', jwksUrl: '', audience: '', issuer: '', clockToleranceMs: 0 }),
  new JwtVerifier({
    secret: SECRET, publicKey: publicKey.export({ type: 'spki', format: 'pem' }) as string, jwksUrl: '',
    audience: 'herald', issuer: 'me', clockToleranceMs: 5000,
  }),
]

/** The verdict within 1 s, or a failure naming the token. */
async function verdictOf(verifier: JwtVerifier, token: string) {
  let timer: NodeJS.Timeout | undefined
  const hang = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`hung on ${JSON.stringify(token)}`)), 1000) })
  try {
    const v = await Promise.race([verifier.verify(token), hang])
    assert.ok(v.ok === true ? typeof v.claims === 'object' : typeof v.why === 'string' && v.why.length > 0, JSON.stringify(v))
    return v
  } finally {
    clearTimeout(timer)
  }
}

const b64 = (s: string) => Buffer.from(s).toString('base64url')
const json = fc.jsonValue({ maxDepth: 4 })
const alg = fc.constantFrom('HS256', 'HS384', 'HS512', 'RS256', 'ES256', 'none', 'hs256', '', 'PS256', 'EdDSA')

test('arbitrary strings: a verdict, never an exception or a hang', async () => {
  await fc.assert(fc.asyncProperty(fc.string({ maxLength: 300 }), async (token) => {
    for (const v of verifiers) await verdictOf(v, token)
  }), { numRuns: 300 })
})

test('three dot-separated parts of arbitrary base64url or JSON: a refusal', async () => {
  const part = fc.oneof(fc.base64String().map((s) => s.replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_')), json.map((j) => b64(JSON.stringify(j))), fc.string())
  await fc.assert(fc.asyncProperty(part, part, part, async (a, b, c) => {
    for (const v of verifiers) assert.equal((await verdictOf(v, `${a}.${b}.${c}`)).ok, false)
  }), { numRuns: 300 })
})

test('arbitrary claims, correctly HMAC-signed under any alg name: accepted only with valid numeric times', async () => {
  const claims = fc.dictionary(fc.constantFrom('exp', 'nbf', 'iat', 'aud', 'iss', 'sub', 'ext', 'jti'), fc.oneof(json, fc.integer(), fc.double()), { maxKeys: 6 })
  const now = Date.now() / 1000
  await fc.assert(fc.asyncProperty(claims, alg, async (c, a) => {
    const v = await verdictOf(verifiers[0], jwt(c, SECRET, a, 'sha256'))
    if (!v.ok) return
    assert.equal(a, 'HS256')
    for (const key of ['exp', 'nbf', 'iat'] as const) if (key in c) assert.equal(typeof c[key], 'number', `${key} accepted as ${JSON.stringify(c[key])}`)
    if (typeof c.exp === 'number') assert.ok(c.exp > now - 1)
    if (typeof c.nbf === 'number') assert.ok(c.nbf <= now + 1)
  }), { numRuns: 500 })
})

test('arbitrary headers over a valid signature: only HS256/384/512 with the secret pass', async () => {
  const header = fc.dictionary(fc.constantFrom('alg', 'typ', 'kid', 'crit', 'b64', 'jku', 'x5u'), json, { maxKeys: 5 })
  await fc.assert(fc.asyncProperty(header, async (h) => {
    const head = b64(JSON.stringify(h))
    const token = `${head}.${b64('{}')}.${jwt({}, SECRET).split('.')[2]}`
    for (const v of verifiers) assert.equal((await verdictOf(v, token)).ok, false)
  }), { numRuns: 300 })
})
