import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { after, before, test } from 'node:test'
import { loadConfig } from '../../src/config/load.js'
import { Herald } from '../../src/herald.js'
import { createLogger } from '../../src/observability/logger.js'
import { WireClient } from '../support/herald.js'
import { metric, until, within } from '../support/util.js'

// Issue #13, "ws refusals are mislabelled": a 2^63 length header (ws closes 1009), a message of
// 16,385 fragments (1008) and a burst of unanswered pings (dropped without a close frame) were
// logged and counted as protocol_error / an ordinary close. Each now has its own reason, log
// line and count. Raw TCP sockets write the hand-made frames.

let h: Herald
const lines: any[] = []
before(async () => {
  const config = loadConfig({ overrides: { host: '127.0.0.1', port: 0 } })
  const logger = createLogger('debug', { write: (line: string) => { lines.push(JSON.parse(line)) } })
  h = new Herald({ config, logger })
  await h.listen()
})
after(() => h.close(200))

const wsUrl = () => `${h.url.replace(/^http/, 'ws')}/cable`

/** Masked client frame. */
function frame(opcode: number, payload: Buffer, fin = true): Buffer {
  const mask = Buffer.from([1, 2, 3, 4])
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]))
  if (payload.length >= 126) throw new Error('short frames only')
  return Buffer.concat([Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | payload.length]), mask, masked])
}

/**
 * Upgrades a raw socket at /cable, writes `bytes`, and resolves when the server ends the
 * connection: the close frame's code, or undefined when none came.
 */
function rawSession(bytes: Buffer): Promise<number | undefined> {
  const { port } = new URL(h.url)
  return within(new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => {
      socket.write('GET /cable HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: actioncable-v1-json\r\n\r\n')
    })
    let buf = Buffer.alloc(0)
    let body = -1
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d])
      if (body < 0) {
        const end = buf.indexOf('\r\n\r\n')
        if (end < 0) return
        assert.match(buf.subarray(0, end).toString(), /^HTTP\/1.1 101/)
        body = end + 4
        socket.write(bytes)
      }
    })
    socket.on('close', () => {
      // Server frames are unmasked: find the close frame (0x88) after the welcome and pings.
      let i = body
      while (i >= 0 && i + 2 <= buf.length) {
        const op = buf[i] & 0x0f
        let len = buf[i + 1] & 0x7f
        let at = i + 2
        if (len === 126) { len = buf.readUInt16BE(at); at += 2 }
        if (op === 0x8) return resolve(len >= 2 ? buf.readUInt16BE(at) : undefined)
        i = at + len
      }
      resolve(undefined)
    })
    socket.on('error', () => { /* a reset is an end too */ })
    socket.on('timeout', reject)
  }), 10_000, 'the server to end the raw WebSocket')
}

const counts = async (code: string, reason: string) => [
  await metric(h.url, 'herald_errors_total', { code }),
  await metric(h.url, 'herald_disconnects_total', { reason }),
  await metric(h.url, 'herald_disconnects_total', { reason: 'protocol_error' }),
]

async function servesAfter(): Promise<void> {
  const c = await WireClient.connect(wsUrl())
  await c.waitForType('welcome')
  c.ws.close()
}

test('a frame whose length header says 2^63: closed 1009, logged and counted as message_too_big', async () => {
  const before = await counts('HERALD_ERR_MESSAGE_TOO_BIG', 'message_too_big')
  const header = Buffer.from([0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4])
  assert.equal(await rawSession(header), 1009)
  await until(async () => (await counts('HERALD_ERR_MESSAGE_TOO_BIG', 'message_too_big'))[1] === before[1] + 1, 'the disconnect counted')
  assert.deepEqual(await counts('HERALD_ERR_MESSAGE_TOO_BIG', 'message_too_big'), [before[0] + 1, before[1] + 1, before[2]])
  assert.ok(lines.some((l) => l.level === 'warn' && l.code === 'HERALD_ERR_MESSAGE_TOO_BIG' && /2\^53/.test(l.msg)), 'a warn line')
  await servesAfter()
})

test('a message of 16,385 fragments: closed 1008, logged and counted as too_many_fragments', async () => {
  const before = await counts('HERALD_ERR_TOO_MANY_FRAGMENTS', 'too_many_fragments')
  const parts = [frame(0x1, Buffer.from('['), false)]
  for (let i = 1; i < 16_385; i++) parts.push(frame(0x0, Buffer.from(' '), false))
  parts.push(frame(0x0, Buffer.from(']'), true))
  assert.equal(await rawSession(Buffer.concat(parts)), 1008)
  await until(async () => (await counts('HERALD_ERR_TOO_MANY_FRAGMENTS', 'too_many_fragments'))[1] === before[1] + 1, 'the disconnect counted')
  assert.deepEqual(await counts('HERALD_ERR_TOO_MANY_FRAGMENTS', 'too_many_fragments'), [before[0] + 1, before[1] + 1, before[2]])
  assert.ok(lines.some((l) => l.level === 'warn' && l.code === 'HERALD_ERR_TOO_MANY_FRAGMENTS'), 'a warn line')
  await servesAfter()
})

test('a burst of 100 pings whose pongs go unread: dropped without a close frame, logged and counted as ping_flood', async () => {
  const before = await counts('HERALD_ERR_PING_FLOOD', 'ping_flood')
  const closed = before[1]
  const ordinary = await metric(h.url, 'herald_disconnects_total', { reason: 'closed' })
  const pings = Buffer.concat(Array.from({ length: 100 }, () => frame(0x9, Buffer.alloc(0))))
  assert.equal(await rawSession(pings), undefined, 'no close frame')
  await until(async () => (await counts('HERALD_ERR_PING_FLOOD', 'ping_flood'))[1] === closed + 1, 'the disconnect counted')
  assert.deepEqual(await counts('HERALD_ERR_PING_FLOOD', 'ping_flood'), [before[0] + 1, before[1] + 1, before[2]])
  assert.equal(await metric(h.url, 'herald_disconnects_total', { reason: 'closed' }), ordinary, 'not an ordinary close')
  assert.ok(lines.some((l) => l.level === 'warn' && l.code === 'HERALD_ERR_PING_FLOOD' && /more than 60 pings/.test(l.msg)), 'a warn line')
  await servesAfter()
})
