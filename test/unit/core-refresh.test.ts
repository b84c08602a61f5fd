import assert from 'node:assert/strict'
import { afterEach, test } from 'node:test'
import { publicIdentifier } from '../../src/protocol/identifier.js'
import { scriptedCore, type ScriptedCore } from '../support/scripted-core.js'
import { until } from '../support/util.js'

// The core's refresh of live sessions with a network broker, on its real timer (once a second at
// the shortest): slower than the other core tests, so listed after them for Stryker.

const open: ScriptedCore[] = []
afterEach(async () => { for (const c of open.splice(0)) await c.close() })
const setup = (...args: Parameters<typeof scriptedCore>) => { const t = scriptedCore(...args); open.push(t); return t }
const id = (stream: string) => publicIdentifier(stream)
const sets = (t: ScriptedCore, sid: string) => t.broker.storeOps.filter((op) => op === `set ${sid}`).length

test('live sessions are saved again before their TTL runs out (every max(1 s, TTL / 3)); only those that can restore', async () => {
  const t = setup({ sessionsTtlMs: 1500 })
  t.core.start()
  const { conn } = t.connect()
  const oneWay = t.connect({ transport: 'sse', bidirectional: false, restorable: false })
  await conn.subscribe(id('s'))
  await oneWay.conn.subscribe(id('s'))
  await until(() => sets(t, conn.sid) >= 3, 'kept, then refreshed twice')
  assert.equal(sets(t, oneWay.conn.sid), 0)
  // Restorable after more than its TTL since the subscribe.
  const back = t.connect({}, `http://test/cable?sid=${conn.sid}`)
  await until(() => back.wire.messages().length > 0, 'welcome')
  assert.deepEqual(back.wire.messages()[0].restored_ids, [id('s')])
})
