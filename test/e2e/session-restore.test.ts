import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { HeraldConfigInput } from '../../src/index.js'
import { openSocket } from '../support/clients.js'
import { startHerald, type TestHerald } from '../support/herald.js'
import { broadcast, until } from '../support/util.js'
import { publicId } from '../support/wire.js'

// docs/protocol.md, "Session restore": an extended session's channels are kept for
// --sessions-ttl after a drop; a reconnect with its sid restores them, and each restored channel
// holds live messages until the client's history request (at most 5 s). Each test has its own
// server, so the restorable-session count is exact.

async function withServer(config: HeraldConfigInput, run: (h: TestHerald) => Promise<void>): Promise<void> {
  const h = await startHerald({ publicStreams: true, ...config })
  try {
    await run(h)
  } finally {
    await h.close()
  }
}

/** An extended-protocol client subscribed to `stream` that drops without a close frame; resolves once the server kept its session. */
async function droppedSession(h: TestHerald, stream: string, restorable = 1): Promise<{ sid: string; epoch?: string }> {
  const s = await openSocket('1.1', h.url)
  const { sid } = await s.waitForType('welcome')
  s.send({ command: 'subscribe', identifier: publicId(stream) })
  await s.waitForType('confirm_subscription')
  const [first] = await broadcast(h.url, { stream, data: '{"i":1}' })
  await s.waitFor((m) => m.offset === 1)
  s.drop()
  await s.closed()
  await until(() => h.herald.stats().connections.total === 0, 'the server saw the drop')
  await until(() => h.herald.stats().restorableSessions === restorable, 'the session kept')
  return { sid, epoch: first.epoch }
}

const restore = async (h: TestHerald, sid: string) => {
  const s = await openSocket('1.1', h.url, { path: `/cable?sid=${encodeURIComponent(sid)}` })
  return { s, welcome: await s.waitForType('welcome') }
}

test('a session is restorable within --sessions-ttl and not after it', async () => {
  await withServer({ sessionsTtl: 0.5 }, async (h) => {
    const within = await droppedSession(h, 'ttl/within')
    const back = await restore(h, within.sid)
    assert.deepEqual(back.welcome.restored_ids, [publicId('ttl/within')], 'restored within the TTL')
    back.s.close()
    await until(() => h.herald.stats().connections.total === 0, 'closed')
    await until(() => h.herald.stats().restorableSessions === 1, 'the restored session kept again after its close')
    // Wait for expiry on the server's own clock: the kept session is swept once its TTL passed.
    const late = await droppedSession(h, 'ttl/late', 2)
    await until(() => h.herald.stats().restorableSessions === 0, 'both kept sessions expired', 10_000)
    const fresh = await restore(h, late.sid)
    assert.deepEqual(fresh.welcome, { type: 'welcome', sid: fresh.welcome.sid }, 'a fresh session, not a restore')
    assert.deepEqual(h.herald.clients().find((c) => c.sid === fresh.welcome.sid)?.identifiers, [])
    fresh.s.close()
  })
})

test('--sessions-ttl 0 keeps nothing to restore', async () => {
  await withServer({ sessionsTtl: 0 }, async (h) => {
    const { sid } = await droppedSession(h, 'ttl/zero', 0)
    const fresh = await restore(h, sid)
    assert.equal(fresh.welcome.restored, undefined)
    fresh.s.close()
  })
})

test('a restored channel holds live messages until the history request; without one they come after at most 5 s, once, in order', async () => {
  await withServer({}, async (h) => {
    const stream = 'hold/five'
    const { sid } = await droppedSession(h, stream)
    const { s, welcome } = await restore(h, sid)
    assert.deepEqual(welcome.restored_ids, [publicId(stream)])
    await broadcast(h.url, [2, 3].map((i) => ({ stream, data: JSON.stringify({ i }) })))
    // Published (and fanned out) before the ping: a pong first means they were held.
    s.send({ command: 'ping' })
    await s.waitForType('pong')
    assert.deepEqual(s.messages.filter((m) => m.offset !== undefined), [], 'held while no history request came')
    // Still held a second later: the hold lasts until the request or 5 s, not one sweep of the
    // server's timer (a lower bound only; the server cannot release early because the test is slow).
    await sleep(1000)
    s.send({ command: 'ping' })
    await s.waitFor((m) => m.type === 'pong' && s.messages.filter((x) => x.type === 'pong').length === 2)
    assert.deepEqual(s.messages.filter((m) => m.offset !== undefined), [], 'still held')
    await s.waitFor((m) => m.offset === 3, 10_000)
    await broadcast(h.url, { stream, data: '{"i":4}' })
    await s.waitFor((m) => m.offset === 4)
    assert.deepEqual(s.messages.filter((m) => m.offset !== undefined).map((m) => [m.offset, m.message.i]), [[2, 2], [3, 3], [4, 4]])
    s.close()
  })
})
