// Redis names: a stream name made only of the characters the hash tag escapes is escaped too,
// and each --broker-prefix has a control channel of its own (two Herald clusters sharing one
// Redis do not receive each other's control messages).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { hashTag, RedisKeys } from '../../src/broker/redis-keys.js'

test('a name of only %, { and } is escaped like any other', () => {
  assert.equal(hashTag('}{'), '%7d%7b')
  assert.equal(hashTag('%'), '%25')
  assert.equal(hashTag('plain'), 'plain')
})

test('the control channel is under the prefix', () => {
  assert.equal(new RedisKeys('blue:').control, 'blue:control')
  assert.notEqual(new RedisKeys('blue:').control, new RedisKeys('green:').control)
})
