import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createCable, type Cable } from '@anycable/core'
import { WebSocket } from 'ws'
import { signStream } from '../../src/auth/signed-stream.js'
import { publicIdentifier } from '../../src/protocol/identifier.js'
import { startHerald, WireClient, type TestHerald } from '../support/herald.js'
import { broadcast, until } from '../support/util.js'

let h: TestHerald
const STREAMS_SECRET = 'anycable-test-secret'
before(async () => { h = await startHerald({ publicStreams: true, streamsSecret: STREAMS_SECRET }) })
after(() => h.close())

const cables: Cable[] = []
after(() => { for (const c of cables) c.disconnect() })

/** The unmodified @anycable/core client over ws, extended protocol. Reconnects only when told to. */
function cable(): Cable {
  const c = createCable(h.wsUrl, {
    websocketImplementation: WebSocket,
    protocol: 'actioncable-v1-ext-json',
    logLevel: 'error',
    // A reconnect the test triggers itself (monitor.reconnectNow), so "while it is away" is certain.
    reconnectStrategy: () => 600_000,
  })
  cables.push(c)
  return c
}

let n = 0
const freshStream = (prefix: string) => `${prefix}/${++n}/${Date.now()}`
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

async function publishRange(stream: string, from: number, to: number): Promise<void> {
  await broadcast(h.url, range(from, to).map((i) => ({ stream, data: JSON.stringify({ i }) })))
}

describe('@anycable/core client', () => {
  test('streamFrom receives broadcasts (public streams)', async () => {
    const c = cable()
    const stream = freshStream('public')
    const channel = c.streamFrom(stream)
    const got: unknown[] = []
    channel.on('message', (m) => { got.push(m) })
    await channel.ensureSubscribed()
    assert.equal(channel.state, 'connected')
    await broadcast(h.url, { stream, data: '{"text":"hello"}' })
    await broadcast(h.url, { stream, data: 'plain text' })
    await until(() => got.length === 2, 'two messages')
    assert.deepEqual(got, [{ text: 'hello' }, 'plain text'])
    c.disconnect()
  })

  test('streamFromSigned receives broadcasts signed with the server secret', async () => {
    const c = cable()
    const stream = freshStream('signed')
    const channel = c.streamFromSigned(signStream(stream, STREAMS_SECRET))
    const got: unknown[] = []
    channel.on('message', (m) => { got.push(m) })
    await channel.ensureSubscribed()
    await publishRange(stream, 1, 3)
    await until(() => got.length === 3, 'three messages')
    assert.deepEqual(got, [{ i: 1 }, { i: 2 }, { i: 3 }])
    c.disconnect()
  })

  test('after an unclean drop it restores its session and gets exactly what it missed, in order', async () => {
    const c = cable()
    const stream = freshStream('restore')
    const channel = c.streamFromSigned(signStream(stream, STREAMS_SECRET))
    const got: number[] = []
    channel.on('message', (m: any) => { got.push(m.i) })
    const connects: unknown[] = []
    c.on('connect', (ev) => { connects.push(ev) })
    await channel.ensureSubscribed()
    await publishRange(stream, 1, 5)
    await until(() => got.length === 5, 'messages 1..5')
    const sid = c.sessionId
    assert.ok(sid)

    // Drop the TCP connection without a close frame, as a network failure would.
    const before = h.herald.stats().restorableSessions
    ;(c.transport as any).ws.terminate()
    await until(() => c.state === 'disconnected', 'client notices the drop')
    await until(() => h.herald.stats().restorableSessions > before, 'server keeps the session for restore')

    await publishRange(stream, 6, 10) // while it is away
    assert.ok(c.monitor!.reconnectNow(), 'reconnect')
    await until(() => got.length >= 10, 'messages 6..10')
    await publishRange(stream, 11, 11) // live again, after the backlog
    await until(() => got.includes(11), 'message 11')

    assert.deepEqual(got, range(1, 11))
    assert.deepEqual(connects.at(-1), { reconnect: true, restored: true })
    assert.notEqual(c.sessionId, sid, 'a restored session gets a new sid')
    c.disconnect()
  })
})

describe('raw wire restore', () => {
  async function connected(stream: string) {
    const c = await WireClient.connect(h.wsUrl)
    const welcome = await c.waitForType('welcome')
    const identifier = publicIdentifier(stream)
    c.send({ command: 'subscribe', identifier })
    await c.waitForType('confirm_subscription')
    return { c, sid: welcome.sid as string, identifier }
  }
  const offsetsOf = (c: WireClient, identifier: string) => c.data(identifier).map((m) => m.offset)

  test('welcome restored:true with restored_ids, then history from the position; live messages held meanwhile', async () => {
    const stream = freshStream('wire')
    const { c, sid, identifier } = await connected(stream)
    await publishRange(stream, 1, 5)
    await c.waitFor((m) => m.offset === 5)
    const { epoch } = c.data(identifier)[0]
    const before = h.herald.stats().restorableSessions
    c.ws.terminate()
    await until(() => h.herald.stats().restorableSessions > before, 'server keeps the session')
    await publishRange(stream, 6, 10)

    const r = await WireClient.connect(`${h.wsUrl}?sid=${encodeURIComponent(sid)}`)
    const welcome = await r.waitForType('welcome')
    assert.deepEqual(welcome, { type: 'welcome', sid: welcome.sid, restored: true, restored_ids: [identifier] })
    assert.notEqual(welcome.sid, sid)
    // Published after the restore and before the client says where it is: held, not sent twice.
    await publishRange(stream, 11, 12)
    r.send({ command: 'history', identifier, history: { streams: { [stream]: { epoch, offset: 5 } } } })
    await r.waitForType('confirm_history')
    await publishRange(stream, 13, 13)
    await r.waitFor((m) => m.offset === 13)
    assert.deepEqual(offsetsOf(r, identifier), range(6, 13))
    assert.deepEqual(r.data(identifier).map((m) => m.message.i), range(6, 13))
    assert.equal(r.messages.filter((m) => m.type === 'confirm_subscription').length, 0, 'restored, not re-subscribed')
    r.close()
  })

  test('the restore header works too, and a sid can be restored only once', async () => {
    const stream = freshStream('header')
    const { c, sid, identifier } = await connected(stream)
    c.close()
    await until(() => h.herald.clients().every((x) => x.sid !== sid), 'server closed it')
    const r = await WireClient.connect(h.wsUrl, 'actioncable-v1-ext-json', { headers: { 'X-AnyCable-Restore-SID': sid } })
    assert.deepEqual((await r.waitForType('welcome')).restored_ids, [identifier])
    const again = await WireClient.connect(`${h.wsUrl}?sid=${encodeURIComponent(sid)}`)
    const w = await again.waitForType('welcome')
    assert.equal(w.restored, undefined, 'second restore of the same sid is a fresh session')
    r.close()
    again.close()
  })

  test('a position from another epoch is answered with reject_history', async () => {
    const stream = freshStream('epoch')
    const { c, identifier } = await connected(stream)
    await publishRange(stream, 1, 2)
    await c.waitFor((m) => m.offset === 2)
    c.send({ command: 'history', identifier, history: { streams: { [stream]: { epoch: 'gone', offset: 1 } } } })
    await c.waitForType('reject_history')
    await publishRange(stream, 3, 3)
    await c.waitFor((m) => m.offset === 3)
    assert.deepEqual(offsetsOf(c, identifier), [1, 2, 3])
    c.close()
  })

  test('a rejected position beyond the latest offset does not swallow later live messages', async () => {
    const stream = freshStream('beyond')
    const { c, identifier } = await connected(stream)
    await publishRange(stream, 1, 3)
    await c.waitFor((m) => m.offset === 3)
    const { epoch } = c.data(identifier)[0]
    c.send({ command: 'history', identifier, history: { streams: { [stream]: { epoch, offset: 10 } } } })
    await c.waitForType('reject_history')
    await publishRange(stream, 4, 12)
    await c.waitFor((m) => m.offset === 12)
    assert.deepEqual(offsetsOf(c, identifier), range(1, 12))
    c.close()
  })

  test('subscribe with history since a time replays the kept messages before going live', async () => {
    const stream = freshStream('since')
    await publishRange(stream, 1, 3)
    const c = await WireClient.connect(h.wsUrl)
    await c.waitForType('welcome')
    const identifier = publicIdentifier(stream)
    c.send({ command: 'subscribe', identifier, history: { since: Math.floor(Date.now() / 1000) - 60, streams: {} } })
    await c.waitForType('confirm_history')
    await publishRange(stream, 4, 4)
    await c.waitFor((m) => m.offset === 4)
    assert.deepEqual(offsetsOf(c, identifier), [1, 2, 3, 4])
    const order = c.messages.map((m) => m.type ?? `data${m.offset}`).filter((t) => t !== 'ping')
    assert.deepEqual(order, ['welcome', 'confirm_subscription', 'data1', 'data2', 'data3', 'confirm_history', 'data4'])
    c.close()
  })

  // Restore needs positions, so only the extended protocol has it (docs/protocol.md, "Session
  // restore"). Each test has its own server: the restorable-session count is exact there.
  test('a base-protocol session is not kept when it drops, so nothing can restore it', async () => {
    const own = await startHerald({ publicStreams: true })
    try {
      const stream = freshStream('base')
      const c = await WireClient.connect(own.wsUrl, 'actioncable-v1-json')
      const { sid } = await c.waitForType('welcome')
      c.send({ command: 'subscribe', identifier: publicIdentifier(stream) })
      await c.waitForType('confirm_subscription')
      c.ws.terminate()
      await until(() => own.herald.stats().connections.total === 0, 'the server recorded the drop')
      assert.equal(own.herald.stats().restorableSessions, 0, 'nothing kept for restore')
      for (const protocol of ['actioncable-v1-json', 'actioncable-v1-ext-json']) {
        const r = await WireClient.connect(`${own.wsUrl}?sid=${encodeURIComponent(sid)}`, protocol)
        const welcome = await r.waitForType('welcome')
        assert.deepEqual(welcome, { type: 'welcome', sid: welcome.sid }, `${protocol}: a fresh session`)
        assert.deepEqual(own.herald.clients().find((x) => x.sid === welcome.sid)?.identifiers, [], `${protocol}: subscribed to nothing`)
        r.close()
      }
    } finally {
      await own.close()
    }
  })

  test('a base-protocol client cannot restore an extended session; the session stays restorable', async () => {
    const own = await startHerald({ publicStreams: true })
    try {
      const stream = freshStream('ext-then-base')
      const identifier = publicIdentifier(stream)
      const c = await WireClient.connect(own.wsUrl)
      const { sid } = await c.waitForType('welcome')
      c.send({ command: 'subscribe', identifier })
      await c.waitForType('confirm_subscription')
      c.ws.terminate()
      await until(() => own.herald.stats().restorableSessions === 1, 'the server keeps the session')
      const base = await WireClient.connect(`${own.wsUrl}?sid=${encodeURIComponent(sid)}`, 'actioncable-v1-json')
      const welcome = await base.waitForType('welcome')
      assert.deepEqual(welcome, { type: 'welcome', sid: welcome.sid }, 'a fresh session')
      assert.deepEqual(own.herald.clients().find((x) => x.sid === welcome.sid)?.identifiers, [])
      assert.equal(own.herald.stats().restorableSessions, 1, 'the extended session is still kept')
      const ext = await WireClient.connect(`${own.wsUrl}?sid=${encodeURIComponent(sid)}`)
      assert.deepEqual((await ext.waitForType('welcome')).restored_ids, [identifier])
      base.close()
      ext.close()
    } finally {
      await own.close()
    }
  })
})
