// What the broker's exported names and errors show an operator: the error classes' names (in logs
// and `String(err)`) and the NATS prefix used when the configured one has no usable character.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BrokerUnavailable, HistoryUnavailable } from '../../src/broker/broker.js'
import { NatsNames } from '../../src/broker/nats-names.js'

test('broker errors name themselves in logs', () => {
  const cause = new Error('ECONNREFUSED')
  const down = new BrokerUnavailable('redis: down', { cause })
  assert.equal(String(down), 'BrokerUnavailable: redis: down')
  assert.equal(down.cause, cause)
  assert.equal(String(new HistoryUnavailable('epoch x is gone')), 'HistoryUnavailable: epoch x is gone')
})

test("an empty NATS prefix falls back to 'herald'", () => {
  const n = new NatsNames('')
  assert.deepEqual([n.prefix, n.historyStream, n.control, n.live('s')], ['herald', 'herald_history', 'herald.control', 'herald.live.s'])
})
