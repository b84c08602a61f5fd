import { defineFraming } from './framing.js'

/**
 * RFC 6455 §5.2: the header of an unmasked server frame with FIN set, for `opcodeByte` (the
 * opcode, plus 0x40 for RSV1), written at the start of `frame`; returns its length (2, 4 or 10).
 */
function writeHeader(frame: Buffer, opcodeByte: number, payloadLength: number): number {
  frame[0] = 0x80 | opcodeByte
  if (payloadLength < 126) {
    frame[1] = payloadLength
    return 2
  }
  if (payloadLength < 65536) {
    frame[1] = 126
    frame.writeUInt16BE(payloadLength, 2)
    return 4
  }
  frame[1] = 127
  frame.writeUInt32BE(Math.floor(payloadLength / 0x1_0000_0000), 2)
  frame.writeUInt32BE(payloadLength >>> 0, 6)
  return 10
}

const headerLength = (payloadLength: number) => (payloadLength < 126 ? 2 : payloadLength < 65536 ? 4 : 10)

/**
 * A text frame for `text`, built once and written raw to every socket, so a broadcast costs one
 * encode for all subscribers (docs/node-notes.md §2: frame once + batch ≈ 8×). The header and the
 * UTF-8 go straight into one buffer: no payload copy and no concatenation (ws's Sender.frame
 * returns the header and the payload apart; the jobs path builds one frame per delivery).
 */
export function wsTextFrame(text: string): Buffer {
  const length = Buffer.byteLength(text, 'utf8')
  const frame = Buffer.allocUnsafe(headerLength(length) + length)
  frame.write(text, writeHeader(frame, 0x01, length), 'utf8')
  return frame
}

/** A frame of `payload` bytes (text; RSV1 set when `compressed`: RFC 7692 §6). */
export function wsFrame(payload: Buffer, compressed: boolean): Buffer {
  const frame = Buffer.allocUnsafe(headerLength(payload.length) + payload.length)
  payload.copy(frame, writeHeader(frame, compressed ? 0x41 : 0x01, payload.length))
  return frame
}

/** WebSocket: every reply and message whole, one text frame each. */
export const wsFraming = defineFraming({
  name: 'ws-text',
  reply: (reply) => wsTextFrame(reply.json),
  transmit: (identifier, message) => wsTextFrame(`{"identifier":${JSON.stringify(identifier)},"message":${message}}`),
  data: (prepared) => wsTextFrame(prepared.json()),
})
