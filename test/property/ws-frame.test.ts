import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { Sender } from 'ws'
import { wsFrame, wsTextFrame } from '../../src/framing/ws-frame.js'
import { RUNS } from './settings.js'

// Herald builds its server frames itself (one buffer, no copy). Whatever the text, the bytes must
// be the ones ws's own framer gives: the same header for every length class (7-bit, 16-bit and
// 64-bit lengths) and the same payload, with RSV1 exactly when the payload is compressed.
const byWs = (payload: Buffer, rsv1: boolean) =>
  Buffer.concat(Sender.frame(payload, { fin: true, opcode: 0x01, mask: false, readOnly: false, rsv1 }) as Buffer[])

// Lengths around each boundary of the header's length field, in UTF-8 bytes.
const around = (n: number) => fc.integer({ min: Math.max(0, n - 3), max: n + 3 })
const length = fc.oneof(fc.integer({ min: 0, max: 300 }), around(125), around(126), around(65535), around(65536))
const text = fc.oneof(
  length.map((n) => 'a'.repeat(n)),
  fc.string({ unit: 'grapheme', maxLength: 200 }),
  fc.tuple(length, fc.constantFrom('é', '€', '😀')).map(([n, c]) => 'x'.repeat(n) + c),
)

test('a text frame is the frame ws would build, for any text and every length class', () => {
  fc.assert(fc.property(text, (t) => {
    assert.deepEqual(wsTextFrame(t), byWs(Buffer.from(t, 'utf8'), false))
  }), RUNS)
})

test('a frame of bytes is the frame ws would build, with RSV1 when compressed', () => {
  fc.assert(fc.property(length, fc.boolean(), (n, compressed) => {
    const payload = Buffer.alloc(n, 7)
    assert.deepEqual(wsFrame(payload, compressed), byWs(payload, compressed))
  }), RUNS)
})
