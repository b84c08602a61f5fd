import assert from 'node:assert/strict'
import { test } from 'node:test'
import { decodeCommand, decodeHistory, ProtocolError } from '../../src/protocol/codec.js'
import { parseIdentifier } from '../../src/protocol/identifier.js'

// Edges of the command decoder and the identifier reader that a client can reach and that
// codec.test.ts leaves open.

test('offset 0 is a valid position (nothing seen yet); only negative offsets are refused', () => {
  assert.deepEqual(decodeHistory({ streams: { s: { epoch: 'e', offset: 0 } } }), { streams: { s: { epoch: 'e', offset: 0 } } })
  assert.throws(() => decodeHistory({ streams: { s: { epoch: 'e', offset: -1 } } }), /history\.streams\.s\.offset must be a non-negative integer/)
})

test('history.since must be finite: 1e999 parses to Infinity and is refused', () => {
  assert.throws(() => decodeCommand('{"command":"history","identifier":"x","history":{"since":1e999}}'), (err: unknown) =>
    err instanceof ProtocolError && err.message === 'history.since must be a number')
  assert.deepEqual(decodeHistory({ since: 0 }), { since: 0 })
})

test('a decoding failure is a ProtocolError by name, so a log line says what kind of failure it was', () => {
  assert.throws(() => decodeCommand('{'), (err: unknown) => err instanceof ProtocolError && err.name === 'ProtocolError')
})

test('an identifier that is JSON null, a number or a string is no channel object', () => {
  for (const text of ['null', '7', '"{\\"channel\\":\\"$pubsub\\"}"', 'true']) assert.equal(parseIdentifier(text), undefined, text)
})

test('stream names that are not strings are ignored: a numeric signed name falls back to the public one, a numeric public one is nothing', () => {
  assert.deepEqual(parseIdentifier('{"channel":"$pubsub","signed_stream_name":5,"stream_name":"x"}'), { kind: 'public', stream: 'x' })
  assert.equal(parseIdentifier('{"channel":"$pubsub","stream_name":5}'), undefined)
  assert.equal(parseIdentifier('{"channel":"$pubsub","signed_stream_name":true}'), undefined)
  assert.deepEqual(parseIdentifier('{"channel":"$pubsub","signed_stream_name":"","stream_name":"x"}'), { kind: 'public', stream: 'x' })
})
