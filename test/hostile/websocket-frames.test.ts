import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { startHerald, type TestHerald } from '../support/herald.js'
import { closePayload, RawWebSocket, type FrameOptions } from '../support/raw-ws.js'
import { until } from '../support/util.js'
import { rawHttp } from './raw-http.js'
import { disconnects, errors, stillServes } from './serves.js'

// Hostile WebSocket frames (RFC 6455) written onto a raw socket, each against a real Herald: the
// close code the RFC asks for, the reason (Herald's close reason where it sends one, and always
// herald_errors_total{code} plus herald_disconnects_total{reason}), and a well-behaved client
// served afterwards. Frames a library would never send: unmasked, reserved opcodes and bits,
// oversized or fragmented control frames, invalid UTF-8, bad close codes.

const MAX_MESSAGE = 1024
let h: TestHerald
before(async () => { h = await startHerald({ publicStreams: true, maxMessageSize: MAX_MESSAGE }) })
after(() => h.close())

async function welcomed(): Promise<RawWebSocket> {
  const ws = await RawWebSocket.open(h.url)
  await ws.waitFor((m) => m.type === 'welcome', 'welcome')
  return ws
}

interface Case {
  name: string
  /** The bytes a client sends after its welcome. */
  send(ws: RawWebSocket): void
  /** The close code expected, and Herald's close reason when it writes one (ws's own refusals carry none). */
  code: number
  reason?: string
  error: string
  disconnect: string
}

const frame = (opcode: number, payload: Buffer | string, options?: FrameOptions) => (ws: RawWebSocket) => ws.frame(opcode, payload, options)

const CASES: Case[] = [
  { name: 'invalid UTF-8 in a text frame', send: frame(0x1, Buffer.from([0x7b, 0xc3, 0x28, 0x7d])), code: 1007, error: 'HERALD_ERR_INVALID_UTF8', disconnect: 'invalid_utf8' },
  { name: 'an overlong UTF-8 encoding (0xC0 0xAF)', send: frame(0x1, Buffer.from([0x22, 0xc0, 0xaf, 0x22])), code: 1007, error: 'HERALD_ERR_INVALID_UTF8', disconnect: 'invalid_utf8' },
  {
    name: 'invalid UTF-8 split over two fragments', code: 1007, error: 'HERALD_ERR_INVALID_UTF8', disconnect: 'invalid_utf8',
    send: (ws) => { ws.frame(0x1, Buffer.from([0x22, 0xf0, 0x9f]), { fin: false }); ws.frame(0x0, Buffer.from([0x22]), { fin: true }) },
  },
  { name: 'an unmasked client frame', send: frame(0x1, '{"command":"ping"}', { mask: false }), code: 1002, error: 'HERALD_ERR_BAD_FRAME', disconnect: 'protocol_error' },
  { name: 'reserved data opcode 0x3', send: frame(0x3, 'x'), code: 1002, error: 'HERALD_ERR_BAD_FRAME', disconnect: 'protocol_error' },
  { name: 'reserved control opcode 0xB', send: frame(0xb, ''), code: 1002, error: 'HERALD_ERR_BAD_FRAME', disconnect: 'protocol_error' },
  { name: 'RSV1 set without an extension', send: frame(0x1, '{}', { rsv: 4 }), code: 1002, error: 'HERALD_ERR_BAD_FRAME', disconnect: 'protocol_error' },
  { name: 'a ping with 126 bytes (control frames ≤ 125)', send: frame(0x9, Buffer.alloc(126, 0x61)), code: 1002, error: 'HERALD_ERR_BAD_FRAME', disconnect: 'protocol_error' },
  { name: 'a fragmented ping (control frames must not be)', send: frame(0x9, 'ab', { fin: false }), code: 1002, error: 'HERALD_ERR_BAD_FRAME', disconnect: 'protocol_error' },
  { name: 'a continuation frame with nothing to continue', send: frame(0x0, 'x'), code: 1002, error: 'HERALD_ERR_BAD_FRAME', disconnect: 'protocol_error' },
  {
    name: 'a new text frame inside a fragmented message', code: 1002, error: 'HERALD_ERR_BAD_FRAME', disconnect: 'protocol_error',
    send: (ws) => { ws.frame(0x1, '{"com', { fin: false }); ws.frame(0x1, 'mand":"ping"}') },
  },
  { name: 'a close frame with a 1-byte payload', send: frame(0x8, Buffer.from([0x03])), code: 1002, error: 'HERALD_ERR_BAD_FRAME', disconnect: 'protocol_error' },
  { name: 'a close frame with code 1005 (never sent on the wire)', send: frame(0x8, closePayload(1005)), code: 1002, error: 'HERALD_ERR_BAD_FRAME', disconnect: 'protocol_error' },
  { name: 'a close frame with code 999', send: frame(0x8, closePayload(999)), code: 1002, error: 'HERALD_ERR_BAD_FRAME', disconnect: 'protocol_error' },
  { name: 'a close reason that is not UTF-8', send: frame(0x8, Buffer.concat([closePayload(1000), Buffer.from([0xff])])), code: 1007, error: 'HERALD_ERR_INVALID_UTF8', disconnect: 'invalid_utf8' },
  { name: `a message over --max-message-size (${MAX_MESSAGE} bytes) in one frame`, send: frame(0x1, Buffer.alloc(MAX_MESSAGE + 1, 0x20)), code: 1009, error: 'HERALD_ERR_MESSAGE_TOO_BIG', disconnect: 'message_too_big' },
  {
    name: 'a message over --max-message-size in fragments each under it', code: 1009, error: 'HERALD_ERR_MESSAGE_TOO_BIG', disconnect: 'message_too_big',
    send: (ws) => { ws.frame(0x1, Buffer.alloc(600, 0x20), { fin: false }); ws.frame(0x0, Buffer.alloc(600, 0x20)) },
  },
  { name: 'a binary frame', send: frame(0x2, Buffer.from([1, 2, 3])), code: 1003, reason: 'unsupported_data', error: 'HERALD_ERR_BINARY_FRAME', disconnect: 'unsupported_data' },
]

describe('hostile WebSocket frames', () => {
  for (const c of CASES) {
    test(`${c.name}: close ${c.code}, counted, and the server goes on`, async () => {
      const [errs, ends] = [await errors(h, c.error), await disconnects(h, c.disconnect)]
      const ws = await welcomed()
      c.send(ws)
      const close = await ws.closed()
      assert.ok(close, 'a close frame came before the connection ended')
      assert.equal(close.code, c.code)
      if (c.reason !== undefined) assert.equal(close.reason, c.reason)
      await until(async () => (await disconnects(h, c.disconnect)) > ends, `${c.disconnect} counted`)
      assert.equal(await disconnects(h, c.disconnect), ends + 1)
      assert.equal(await errors(h, c.error), errs + 1)
      await stillServes(h)
    })
  }

  test('a message exactly at --max-message-size is read (and judged as a command)', async () => {
    const ws = await welcomed()
    const ping = '{"command":"ping"}'
    ws.frame(0x1, ping + ' '.repeat(MAX_MESSAGE - ping.length))
    await ws.waitFor((m) => m.type === 'pong', 'pong')
    ws.frame(0x8, closePayload(1000))
    assert.equal((await ws.closed())?.code, 1000)
  })

  test('a client ping is answered with a pong carrying its payload, and the connection stays', async () => {
    const ws = await welcomed()
    ws.frame(0x9, 'are-you-there')
    ws.frame(0x1, '{"command":"ping"}')
    await ws.waitFor((m) => m.type === 'pong', 'pong')
    assert.equal(ws.close, undefined)
    ws.destroy()
    await stillServes(h)
  })

  test('a handshake without Sec-WebSocket-Key, with a short key or an unknown version is 400 (counted); the server goes on', async () => {
    const before = await errors(h, 'HERALD_ERR_BAD_REQUEST')
    const KEY = 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='
    const upgrade = ['GET /cable HTTP/1.1', 'Host: x', 'Upgrade: websocket', 'Connection: Upgrade']
    for (const headers of [['Sec-WebSocket-Version: 13'], ['Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: c2hvcnQ='], ['Sec-WebSocket-Version: 7', KEY]]) {
      const { status, text } = await rawHttp(h.url, [...upgrade, ...headers])
      assert.equal(status, 400, text)
      if (headers[0].endsWith(': 7')) assert.match(text, /sec-websocket-version: 13, 8/i, 'the versions spoken (RFC 6455 §4.4)')
    }
    assert.equal(await errors(h, 'HERALD_ERR_BAD_REQUEST'), before + 3)
    await stillServes(h)
  })
})
