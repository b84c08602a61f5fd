// How the NATS broker recognises JetStream's answers: by the API error code, or by the text when
// a client version reports only that (nats.js has done both). Anything else is another failure:
// a publish that lost a race is retried, a missing KV bucket is made again, the rest is an error.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isStreamNotFound, isWrongLastSequence } from '../../src/broker/nats-store.js'

test('"wrong last sequence" (10071): by code or by text', () => {
  assert.equal(isWrongLastSequence({ code: 10071 }), true)
  assert.equal(isWrongLastSequence(new Error('wrong last sequence: 41')), true)
  assert.equal(isWrongLastSequence(new Error('Wrong Last Sequence')), true)
  assert.equal(isWrongLastSequence({ code: 10059, message: 'stream not found' }), false)
  assert.equal(isWrongLastSequence(new Error('timeout')), false)
  assert.equal(isWrongLastSequence({ code: 10071.5 }), false)
  for (const nothing of [undefined, null, {}, 'wrong last sequence']) assert.equal(isWrongLastSequence(nothing), false)
})

test('"stream not found" (10059): by code or by text', () => {
  assert.equal(isStreamNotFound({ code: 10059 }), true)
  assert.equal(isStreamNotFound(new Error('stream not found')), true)
  assert.equal(isStreamNotFound(new Error('Stream Not Found')), true)
  assert.equal(isStreamNotFound({ code: 10071, message: 'wrong last sequence' }), false)
  assert.equal(isStreamNotFound(new Error('no responders')), false)
  for (const nothing of [undefined, null, {}, 'stream not found']) assert.equal(isStreamNotFound(nothing), false)
})
