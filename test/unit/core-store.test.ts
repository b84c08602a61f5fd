import assert from 'node:assert/strict'
import { afterEach, test } from 'node:test'
import { setImmediate as turn } from 'node:timers/promises'
import { Disconnects } from '../../src/disconnect.js'
import { publicIdentifier } from '../../src/protocol/identifier.js'
import { scriptedCore, type ScriptedCore } from '../support/scripted-core.js'
import { until as untilDeadline } from '../support/util.js'

// In-process waits of a few turns: a 2 s deadline is ample (see connection-catchup.test.ts).
const until = <T>(check: () => T | Promise<T>, what: string) => untilDeadline(check, what, 2000)

// The restore store the core asks its broker for, as an operator sees it: its namespace, TTL and
// limits (--sessions-ttl, --sessions-max-entries, --sessions-max-bytes), none at all under
// --sessions-ttl 0; and a connection's close told once however its end is reported.

const open: ScriptedCore[] = []
afterEach(async () => { for (const c of open.splice(0)) await c.close() })
const setup = (...args: Parameters<typeof scriptedCore>) => { const t = scriptedCore(...args); open.push(t); return t }
const id = (stream: string) => publicIdentifier(stream)

test('sessions live in the broker\'s "sessions" store, with --sessions-ttl and the entry and byte limits', () => {
  const t = setup({ sessionsTtlMs: 30_000, sessionsMaxEntries: 7, sessionsMaxBytes: 65_536 })
  assert.deepEqual(t.broker.stores, [{ namespace: 'sessions', ttlMs: 30_000, limits: { maxEntries: 7, maxBytes: 65_536 } }])
})

test('--sessions-ttl 0: no store at all, so nothing is written for a live session, even with a network broker', async () => {
  const t = setup({ sessionsTtlMs: 0 })
  assert.deepEqual(t.broker.stores, [])
  const { conn } = t.connect()
  await conn.subscribe(id('s'))
  await turn()
  await turn()
  conn.closed(Disconnects.normal)
  await turn()
  assert.deepEqual(t.broker.storeOps, [])
})

test('--sessions-max-entries bounds the sessions kept: the oldest goes first', async () => {
  const t = setup({ sessionsMaxEntries: 1 })
  const sids: string[] = []
  for (const stream of ['a', 'b']) {
    const { conn } = t.connect({ transport: 'ws', extended: true, restorable: true })
    await conn.subscribe(id(stream))
    conn.closed(Disconnects.normal)
    await until(() => t.broker.storeOps.includes(`set ${conn.sid}`), 'kept')
    sids.push(conn.sid)
  }
  await turn()
  const welcome = async (sid: string) => {
    const { wire } = t.connect({}, `http://test/cable?sid=${sid}`)
    await until(() => wire.messages().length > 0, 'welcome')
    return wire.messages()[0]
  }
  assert.equal((await welcome(sids[0])).restored, undefined, 'pushed out by the second')
  assert.deepEqual((await welcome(sids[1])).restored_ids, [id('b')])
})

test('a connection\'s close is told once, however many times its end is reported', async () => {
  const t = setup()
  const { conn } = t.connect()
  conn.disconnect(Disconnects.shutdown)
  conn.closed(Disconnects.normal) // the transport then sees its socket close
  conn.closed()
  await turn()
  assert.deepEqual(t.seen.connectionClose?.map((e) => [e.sid, e.reason.reason]), [[conn.sid, 'server_restart']])
})
