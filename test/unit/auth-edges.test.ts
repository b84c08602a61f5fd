import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createHmac } from 'node:crypto'
import { checkBroadcastKey } from '../../src/auth/broadcast-key.js'
import { signJwt, verifyJwt } from '../../src/auth/jwt.js'

// Edges of auth/ that the other unit tests leave open: signJwt (exported for backends written in
// JavaScript), payloads that are not JSON objects, and what a refused publisher is told (the 401
// body's error.message).

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url')
/** A correctly signed HS256 token whose payload is any JSON text. */
const signedRaw = (payload: string, secret: string) => {
  const head = b64({ alg: 'HS256', typ: 'JWT' })
  const body = b64(payload)
  return `${head}.${body}.${createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url')}`
}

test('signJwt makes an HS256 JWT that verifyJwt accepts with its claims, and nothing else signed', async () => {
  const token = signJwt({ sub: 'user-1', ext: '{"room":7}' }, 'k')
  const [head, body] = token.split('.')
  assert.deepEqual(JSON.parse(Buffer.from(head, 'base64url').toString()), { alg: 'HS256', typ: 'JWT' })
  assert.deepEqual(JSON.parse(Buffer.from(body, 'base64url').toString()), { sub: 'user-1', ext: '{"room":7}' })
  assert.deepEqual(await verifyJwt(token, 'k'), { ok: true, claims: { sub: 'user-1', ext: '{"room":7}' } })
  assert.deepEqual(await verifyJwt(token, 'other'), { ok: false, why: 'bad signature' })
})

test('a correctly signed payload that is not a JSON object is refused', async () => {
  for (const payload of ['[1]', '"text"', 'null', '7', 'true', 'not json']) {
    assert.deepEqual(await verifyJwt(signedRaw(payload, 'k'), 'k'), { ok: false, why: 'payload is not a JSON object' }, payload)
  }
})

const refusal = (key: string, headers: Record<string, string>, address: string) => {
  try {
    checkBroadcastKey(key, headers, address)
  } catch (err) {
    return err as Error & { code?: string }
  }
  assert.fail(`accepted: ${JSON.stringify(headers)} from ${address}`)
}

test('a refused publisher is told why', () => {
  const json = { 'content-type': 'application/json' }
  assert.match(refusal('', json, '10.0.0.1').message, /no broadcast key is configured, so only loopback clients may publish/)
  assert.match(refusal('', { ...json, origin: 'http://x' }, '127.0.0.1').message, /may come from a web page: it carries an Origin header/)
  assert.match(refusal('', { ...json, 'sec-fetch-site': 'same-site' }, '127.0.0.1').message, /it carries a Sec-Fetch-Site header/)
  assert.match(refusal('', {}, '127.0.0.1').message, /it has no Content-Type \(send application\/json\)/)
  assert.match(refusal('', { 'content-type': 'text/plain' }, '127.0.0.1').message,
    /its Content-Type text\/plain is one a web page can send \(send application\/json\)/)
  assert.match(refusal('k', { ...json, authorization: 'Bearer nope' }, '127.0.0.1').message, /expected Authorization: Bearer <broadcast key>/)
})

test('addresses that only start like ::1 are not loopback', () => {
  for (const address of ['::10', '::1:2', '::1f']) {
    assert.equal(refusal('', { 'content-type': 'application/json' }, address).code, 'HERALD_ERR_UNAUTHORIZED', address)
  }
})

test('the key must follow the Bearer scheme at the start of the header', () => {
  assert.equal(refusal('k3y', { authorization: 'XBearer k3y' }, '127.0.0.1').code, 'HERALD_ERR_UNAUTHORIZED')
  assert.equal(refusal('k3y', { authorization: 'Token Bearer k3y' }, '127.0.0.1').code, 'HERALD_ERR_UNAUTHORIZED')
})
