import assert from 'node:assert/strict'
import { afterEach, test } from 'node:test'
import { setImmediate as turn } from 'node:timers/promises'
import { channels } from '../../src/observability/diagnostics.js'
import dc from 'node:diagnostics_channel'
import { Disconnects } from '../../src/disconnect.js'
import { publicIdentifier } from '../../src/protocol/identifier.js'
import { testCore, type TestCore } from '../support/core.js'
import { until as untilDeadline } from '../support/util.js'

// In-process waits of a few turns: a 2 s deadline is ample (see connection-catchup.test.ts).
const until = <T>(check: () => T | Promise<T>, what: string) => untilDeadline(check, what, 2000)

// The core's session options on the memory broker, as a reconnecting client sees them:
// --sessions-ttl 0, the bound on one session's state (a sixteenth of --sessions-max-bytes, at
// least 1 KiB), nothing kept while a session lives on one node, a restore whose client is gone
// before the lookup ends, and a core with no stream hooks.

const cores: TestCore[] = []
afterEach(async () => { for (const c of cores.splice(0)) await c.close() })
const setup = (...args: Parameters<typeof testCore>) => { const t = testCore(...args); cores.push(t); return t }
const id = (stream: string) => publicIdentifier(stream)

/** A session subscribed to `streams` that dropped; what a reconnect with its sid is welcomed with. */
async function dropAndRestore(t: TestCore, streams: string[]) {
  const first = t.connect()
  for (const s of streams) await first.conn.subscribe(id(s))
  first.conn.closed(Disconnects.normal)
  await turn()
  const again = t.connect({}, `http://test/cable?sid=${first.conn.sid}`)
  await until(() => again.wire.messages().length > 0, 'welcome')
  return again.wire.messages()[0]
}

test('--sessions-ttl 0 keeps nothing to restore', async () => {
  const t = setup({ sessionsTtlMs: 0 })
  assert.equal((await dropAndRestore(t, ['s'])).restored, undefined)
  assert.equal(t.core.sessions.size, 0)
})

test('one session\'s state is kept up to a sixteenth of --sessions-max-bytes, and never less than 1 KiB', async () => {
  // 40 channels: about 2.4 KB of state.
  const many = Array.from({ length: 40 }, (_, i) => `stream-${i}`)
  const big = setup({ sessionsMaxBytes: 16 * 2048 }) // 2 KiB per session: not kept
  assert.equal((await dropAndRestore(big, many)).restored, undefined)
  assert.equal(big.core.sessions.dropped, 1)
  const bigger = setup({ sessionsMaxBytes: 16 * 4096 }) // 4 KiB per session: kept
  assert.equal((await dropAndRestore(bigger, many)).restored_ids?.length, 40)
  // A sixteenth of 1,600 bytes is 100; the floor of 1 KiB keeps a 600-byte state all the same.
  const small = setup({ sessionsMaxBytes: 1600 })
  assert.equal((await dropAndRestore(small, many.slice(0, 10))).restored_ids?.length, 10)
})

test('on one node (the memory broker) a session is kept when it ends, not while it lives', async () => {
  const t = setup()
  const { conn } = t.connect()
  await conn.subscribe(id('s'))
  await turn()
  await turn()
  assert.equal(t.core.sessions.size, 0, 'nothing kept while it lives')
  conn.closed(Disconnects.normal)
  assert.equal(t.core.sessions.size, 1)
})

test('a client gone before its restore was looked up is not restored: nothing is subscribed for it', async () => {
  const t = setup()
  const first = t.connect()
  await first.conn.subscribe(id('s'))
  first.conn.closed(Disconnects.normal)
  const again = t.connect({}, `http://test/cable?sid=${first.conn.sid}`)
  again.conn.closed(Disconnects.normal) // before the store answered
  await turn()
  await turn()
  assert.equal(t.hub.subscriberCount('s'), 0)
  assert.deepEqual(again.conn.identifiers, [])
  assert.deepEqual(again.wire.messages(), [])
})

test('a core without stream hooks sends no snapshot and reports no failure', async () => {
  const t = setup()
  const failures: unknown[] = []
  const listener = (m: unknown) => failures.push(m)
  dc.subscribe(channels.requestFail.name as string, listener)
  try {
    const { wire, conn } = t.connect()
    await conn.subscribe(id('s'))
    await t.hub.publish('s', 1)
    await until(() => wire.messages().some((m) => m.offset === 1), 'delivered')
    assert.deepEqual(wire.messages().map((m) => m.type ?? m.offset), ['welcome', 'confirm_subscription', 1])
    assert.deepEqual(failures, [])
  } finally {
    dc.unsubscribe(channels.requestFail.name as string, listener)
  }
})
