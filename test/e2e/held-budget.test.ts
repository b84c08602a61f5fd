import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { publicIdentifier } from '../../src/protocol/identifier.js'
import { startHerald, WireClient, type TestHerald } from '../support/herald.js'
import { broadcast, metric, until } from '../support/util.js'

// Live messages held for a restored session (waiting for its history request) wait in memory
// like queued frames: they count against --outbox-bytes, so a client that never asks cannot
// make the server hold a busy stream without bound.
let h: TestHerald
before(async () => { h = await startHerald({ publicStreams: true, outboxBytes: 8192 }) })
after(() => h.close())

test('held messages of a restored session count against the outbox budget', async () => {
  const identifier = publicIdentifier('held')
  const first = await WireClient.connect(h.wsUrl)
  const { sid } = await first.waitForType('welcome')
  first.send({ command: 'subscribe', identifier })
  await first.waitForType('confirm_subscription')
  first.close()
  await first.closed()

  const restored = await WireClient.connect(`${h.wsUrl}?sid=${sid}`)
  const welcome = await restored.waitForType('welcome')
  assert.deepEqual(welcome.restored_ids, [identifier])
  // No history request: everything published now is held, 40 × ~300 B > 8 KiB.
  const pad = 'x'.repeat(256)
  await broadcast(h.url, Array.from({ length: 40 }, (_, i) => ({ stream: 'held', data: JSON.stringify({ i, pad }) })))
  const { code } = await restored.closed()
  assert.equal(code, 1006) // too_slow terminates: a reader over budget would not read a close frame
  await until(async () => (await metric(h.url, 'herald_disconnects_total', { reason: 'too_slow' })) === 1, 'too_slow counted')
  assert.equal(restored.data(identifier).length, 0)
})

test('a restored session that asks for history gets what was held, once, in order', async () => {
  const identifier = publicIdentifier('held-ok')
  const first = await WireClient.connect(h.wsUrl)
  const { sid } = await first.waitForType('welcome')
  first.send({ command: 'subscribe', identifier })
  await first.waitForType('confirm_subscription')
  const [p1] = await broadcast(h.url, { stream: 'held-ok', data: '{"i":1}' })
  await first.waitFor((m) => m.offset === 1)
  first.close()
  await first.closed()

  const restored = await WireClient.connect(`${h.wsUrl}?sid=${sid}`)
  await restored.waitForType('welcome')
  await broadcast(h.url, [2, 3, 4].map((i) => ({ stream: 'held-ok', data: JSON.stringify({ i }) })))
  restored.send({ command: 'history', identifier, history: { streams: { 'held-ok': { epoch: p1.epoch, offset: 1 } } } })
  await restored.waitForType('confirm_history')
  await restored.waitFor((m) => m.offset === 4)
  assert.deepEqual(restored.data(identifier).map((m) => m.message.i), [2, 3, 4])
  restored.close()
})
