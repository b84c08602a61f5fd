import assert from 'node:assert/strict'
import { afterEach, test } from 'node:test'
import { publicIdentifier } from '../../src/protocol/identifier.js'
import { testCore, type TestCore } from '../support/core.js'
import { until } from '../support/util.js'

// On one node (the memory broker) live sessions are not refreshed into the restore cache: they
// are kept when they end. Real timers: the refresh would run every second (TTL 1.5 s / 3, at
// least 1 s); the first protocol ping, at 1.1 s, comes after it. Listed with the slow unit files.

const cores: TestCore[] = []
afterEach(async () => { for (const c of cores.splice(0)) await c.close() })

test('on the memory broker, a live session is not put in the restore cache by the refresh', async () => {
  const t = testCore({ sessionsTtlMs: 1500, pingIntervalMs: 1100 })
  cores.push(t)
  t.core.start()
  const { wire, conn } = t.connect()
  await conn.subscribe(publicIdentifier('s'))
  await until(() => wire.messages().some((m) => m.type === 'ping'), 'the first ping, after the refresh would have run')
  assert.equal(t.core.sessions.size, 0)
})
