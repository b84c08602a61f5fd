import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { test } from 'node:test'
import { signStream, verifySignedStream } from '../../src/auth/signed-stream.js'

const secret = 's3cr3t'
const hmac = (text: string, key = secret) => createHmac('sha256', key).update(text).digest('hex')

test('the AnyCable / Rails MessageVerifier scheme: base64(JSON(name)) + "--" + hex HMAC-SHA256 of the base64 part', () => {
  const signed = signStream('chat/1', secret)
  assert.equal(signed, `ImNoYXQvMSI=--${hmac('ImNoYXQvMSI=')}`)
  assert.match(signed.split('--')[1], /^[0-9a-f]{64}$/)
})

test('round trip, including names with unicode, quotes and "--"', () => {
  for (const name of ['chat/1', 'job:abc_DEF-123', 'ünïcødé ✓', 'say "hi"', 'a--b', '']) {
    assert.equal(verifySignedStream(signStream(name, secret), secret), name)
  }
})

test('a name signed elsewhere (by hand, as AnyCable would) verifies', () => {
  const encoded = Buffer.from('"room:42"').toString('base64')
  assert.equal(verifySignedStream(`${encoded}--${hmac(encoded)}`, secret), 'room:42')
})

test('tampered names are rejected', () => {
  const signed = signStream('chat/1', secret)
  const [encoded, digest] = signed.split('--')
  const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === '0' ? '1' : '0') + s.slice(i + 1)
  assert.equal(verifySignedStream(`${encoded}--${flip(digest, 10)}`, secret), undefined, 'digest changed')
  const other = Buffer.from('"chat/2"').toString('base64')
  assert.equal(verifySignedStream(`${other}--${digest}`, secret), undefined, 'payload swapped, old digest')
  assert.equal(verifySignedStream(signed, 'another secret'), undefined, 'another secret')
  assert.equal(verifySignedStream(`${encoded}--${digest.toUpperCase()}`, secret), undefined, 'uppercase hex is not the digest')
  assert.equal(verifySignedStream(`${encoded}--${digest.slice(0, -2)}`, secret), undefined, 'truncated digest')
})

test('malformed names are rejected', () => {
  const signed = signStream('chat/1', secret)
  for (const text of ['', '--', 'nodashes', signed.replace('--', '-'), `${signed}--extra`, `x--${signed}`, `${signed.split('--')[0]}--`]) {
    assert.equal(verifySignedStream(text, secret), undefined, JSON.stringify(text))
  }
})

test('correctly signed payloads that are not a JSON string are rejected', () => {
  for (const json of ['42', '{"stream":"x"}', '["x"]', 'null', 'true', 'not json']) {
    const encoded = Buffer.from(json).toString('base64')
    assert.equal(verifySignedStream(`${encoded}--${hmac(encoded)}`, secret), undefined, json)
  }
})

test('with no secret nothing verifies', () => {
  assert.equal(verifySignedStream(signStream('chat/1', ''), ''), undefined)
})
