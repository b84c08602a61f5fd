import assert from 'node:assert/strict'
import { afterEach, test } from 'node:test'
import { Disconnects } from '../../src/disconnect.js'
import { testCore, type TestCore } from '../support/core.js'
import { until } from '../support/util.js'

// 0 means "never" for --inactivity-timeout and --max-lifetime: a limit set to 0 must not end a
// connection, even while the other limit is on.

const cores: TestCore[] = []
afterEach(async () => { for (const c of cores.splice(0)) await c.close() })
const setup = (...args: Parameters<typeof testCore>) => {
  const t = testCore(...args)
  cores.push(t)
  t.core.start()
  return t
}

test('--inactivity-timeout 0: a silent client is never idle; it is ended at its lifetime', async () => {
  const t = setup({ inactivityTimeoutMs: 0, maxLifetimeMs: 300 })
  const { wire } = t.connect({ bidirectional: true })
  await until(() => wire.closedWith, 'closed')
  assert.equal(wire.closedWith, Disconnects.lifetime)
})

test('--max-lifetime 0: a connection has no lifetime; a silent one is ended as idle', async () => {
  const t = setup({ inactivityTimeoutMs: 300, maxLifetimeMs: 0 })
  const { wire } = t.connect({ bidirectional: true })
  await until(() => wire.closedWith, 'closed')
  assert.equal(wire.closedWith, Disconnects.idle)
})
