import { constants, deflateRawSync } from 'node:zlib'
import { Sender } from 'ws'
import { defineFraming, type Framing } from './framing.js'
import { wsFraming } from './ws-frame.js'

const COMPRESSED = { fin: true, opcode: 0x01, mask: false, readOnly: false, rsv1: true } as const
const PLAIN = { fin: true, opcode: 0x01, mask: false, readOnly: false, rsv1: false } as const

function frame(payload: Buffer, options: typeof COMPRESSED | typeof PLAIN): Buffer {
  const list = Sender.frame(payload, options) as Buffer[]
  return list.length === 1 ? list[0] : Buffer.concat(list)
}

/**
 * RFC 7692 §7.2.1: a message compressed on its own (no context from earlier messages: the
 * server always negotiates server_no_context_takeover), flushed with Z_SYNC_FLUSH, whose
 * trailing 0x00 0x00 0xff 0xff is removed (the receiver appends it back).
 */
export function deflateMessage(payload: Buffer, windowBits: number): Buffer {
  const out = deflateRawSync(payload, { finishFlush: constants.Z_SYNC_FLUSH, windowBits })
  return out.subarray(0, out.length - 4)
}

/**
 * One text frame for `text`: compressed with RSV1 set, or plain (RSV1 clear, which RFC 7692 §6
 * allows per message) when deflate would not make it smaller (short messages).
 */
export function wsDeflatedTextFrame(text: string, windowBits: number): Buffer {
  const plain = Buffer.from(text, 'utf8')
  const deflated = deflateMessage(plain, windowBits)
  return deflated.length < plain.length ? frame(deflated, COMPRESSED) : frame(plain, PLAIN)
}

const made = new Map<number, Framing>()

/**
 * WebSocket with permessage-deflate for clients whose compressor window is `windowBits` (15
 * unless the client's offer set server_max_window_bits). One framing per window size, so a
 * broadcast is compressed once for every subscriber that negotiated it (PreparedBroadcast
 * caches by framing) and the very same frame is written to each: with no server context
 * takeover a message's compressed bytes do not depend on the connection. Replies and job
 * snapshots are per connection and go uncompressed.
 */
export function wsDeflateFraming(windowBits: number): Framing {
  let f = made.get(windowBits)
  if (!f) {
    f = defineFraming({
      name: `ws-deflate-${windowBits}`,
      reply: wsFraming.reply,
      transmit: wsFraming.transmit,
      data: (prepared) => wsDeflatedTextFrame(prepared.json(), windowBits),
    })
    made.set(windowBits, f)
  }
  return f
}
