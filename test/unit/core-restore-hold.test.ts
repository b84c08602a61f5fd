import assert from 'node:assert/strict'
import { afterEach, test } from 'node:test'
import { setImmediate as turn } from 'node:timers/promises'
import { Disconnects } from '../../src/disconnect.js'
import { publicIdentifier } from '../../src/protocol/identifier.js'
import { testCore, type TestCore } from '../support/core.js'
import { until } from '../support/util.js'

// The node's sweep ends a restored session's hold (docs/protocol.md, "Session restore"): with no
// history request, held messages go out once the 5 s hold has passed. Real timers: the slowest
// unit file, listed last for Stryker.

const cores: TestCore[] = []
afterEach(async () => { for (const c of cores.splice(0)) await c.close() })
const id = (stream: string) => publicIdentifier(stream)

test('the sweep releases a restored channel\'s held messages after the hold, in order, once', async () => {
  const t = testCore()
  cores.push(t)
  t.core.start()
  const first = t.connect()
  await first.conn.subscribe(id('s'))
  first.conn.closed(Disconnects.normal)
  const again = t.connect({}, `http://test/cable?sid=${first.conn.sid}`)
  await until(() => again.wire.messages()[0]?.restored === true, 'restored')
  await t.hub.publish('s', 1)
  await t.hub.publish('s', 2)
  await turn()
  const got = () => again.wire.messages().filter((m) => m.stream_id === 's').map((m) => m.offset)
  assert.deepEqual(got(), [], 'held')
  await until(() => got().length === 2, 'released by the sweep', 10_000)
  await t.hub.publish('s', 3)
  await until(() => got().length === 3, 'then live')
  assert.deepEqual(got(), [1, 2, 3])
})
