import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { publicIdentifier } from '../../src/protocol/identifier.js'
import { startHerald, WireClient, type TestHerald } from '../support/herald.js'

let h: TestHerald
before(async () => { h = await startHerald({ publicStreams: true }) })
after(() => h.close())

test('welcome, subscribe, broadcast over the extended protocol', async () => {
  const c = await WireClient.connect(h.wsUrl)
  assert.equal(c.ws.protocol, 'actioncable-v1-ext-json')
  const welcome = await c.waitForType('welcome')
  assert.match(welcome.sid, /^[\w-]{20,}$/)
  const identifier = publicIdentifier('news')
  c.send({ command: 'subscribe', identifier })
  await c.waitForType('confirm_subscription')
  const res = await fetch(`${h.url}/_broadcast`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ stream: 'news', data: '{"n":1}' }) })
  assert.equal(res.status, 201)
  const msg = await c.waitFor((m) => m.identifier === identifier && m.message)
  assert.deepEqual(msg, { identifier, message: { n: 1 }, stream_id: 'news', epoch: msg.epoch, offset: 1 })
  c.close()
})
