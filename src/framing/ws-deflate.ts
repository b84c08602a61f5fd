import { constants, deflateRawSync } from 'node:zlib'
import { defineFraming, type Framing } from './framing.js'
import { wsFrame, wsFraming } from './ws-frame.js'

/**
 * RFC 7692 §7.2.1: a message compressed, flushed with Z_SYNC_FLUSH, whose trailing
 * 0x00 0x00 0xff 0xff is removed (the receiver appends it back). With no `dictionary` it refers to
 * nothing before it, so any receiver can inflate it; with one, it may refer back into those bytes,
 * and only a receiver whose window ends with them can.
 */
export function deflateMessage(payload: Buffer, windowBits: number, dictionary?: Buffer): Buffer {
  const out = deflateRawSync(payload, dictionary ? { finishFlush: constants.Z_SYNC_FLUSH, windowBits, dictionary } : { finishFlush: constants.Z_SYNC_FLUSH, windowBits })
  return out.subarray(0, out.length - 4)
}

/**
 * One text frame for `payload`: compressed with RSV1 set, or plain (RSV1 clear, which RFC 7692 §6
 * allows per message) when deflate would not make it smaller (short messages).
 */
export function wsDeflatedTextFrame(payload: string | Buffer, windowBits: number, dictionary?: Buffer): Buffer {
  const plain = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload
  const deflated = deflateMessage(plain, windowBits, dictionary)
  return deflated.length < plain.length ? wsFrame(deflated, true) : wsFrame(plain, false)
}

const made = new Map<string, Framing>()

/**
 * WebSocket with permessage-deflate for clients whose compressor window is `windowBits` (15
 * unless the client's offer set server_max_window_bits). One framing per window size, so a
 * broadcast is compressed once for every subscriber that negotiated it (PreparedBroadcast caches
 * by framing) and the very same frame is written to each. Replies and job snapshots are per
 * connection and go uncompressed, which leaves the client's window as it was.
 *
 * `alongStream` (the client allowed server context takeover, as browsers do): a broadcast is
 * also compressed once against the previous broadcast of its stream, and that frame goes to
 * every wire whose last compressed frame was that previous broadcast (so its window ends with
 * those very bytes); any other wire gets the broadcast compressed on its own. Job progress events
 * then cost a tenth of their size instead of two thirds, still compressed once per broadcast.
 */
export function wsDeflateFraming(windowBits: number, alongStream = false): Framing {
  const key = `${windowBits}${alongStream ? '+stream' : ''}`
  let f = made.get(key)
  if (!f) {
    f = alongStream ? alongStreamFraming(windowBits) : defineFraming({
      name: `ws-deflate-${windowBits}`,
      reply: wsFraming.reply,
      transmit: wsFraming.transmit,
      data: (prepared) => wsDeflatedTextFrame(prepared.payload(), windowBits),
    })
    made.set(key, f)
  }
  return f
}

function alongStreamFraming(windowBits: number): Framing {
  const alone = wsDeflateFraming(windowBits)
  // Its own cache slot: the broadcast compressed against its predecessor, made once.
  const chained = defineFraming({
    name: `ws-deflate-${windowBits}-chained`,
    reply: wsFraming.reply,
    transmit: wsFraming.transmit,
    data: (prepared) => wsDeflatedTextFrame(prepared.payload(), windowBits, Buffer.from(prepared.previous!.text, 'utf8')),
  })
  return defineFraming({
    name: `ws-deflate-${windowBits}-stream`,
    reply: wsFraming.reply,
    transmit: wsFraming.transmit,
    // Safe for any wire; a wire of this framing gets broadcasts through `follow`.
    data: (prepared) => prepared.bytes(alone),
    follow(prepared, last) {
      prepared.followed = true
      const previous = prepared.previous
      return previous !== undefined && last !== 0 && previous.seq === last ? prepared.bytes(chained) : prepared.bytes(alone)
    },
    extendsWindow: (frame) => (frame[0]! & 0x40) !== 0,
  })
}
