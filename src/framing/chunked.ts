import { defineFraming, type Framing } from './framing.js'

const CRLF = Buffer.from('\r\n', 'latin1')

/** One HTTP/1.1 chunk holding `b` (an empty frame stays empty: it is never written). */
function chunk(b: Buffer): Buffer {
  return b.length === 0 ? b : Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`, 'latin1'), b, CRLF])
}

const made = new Map<Framing, Framing>()

/**
 * The HTTP/1.1 chunked transfer coding of a framing, applied once per broadcast (each frame is
 * one whole chunk), so a StreamWire can write a broadcast's bytes straight to the socket with
 * nothing built per subscriber. ServerResponse.write would cost a cork, a nextTick and a 4-part
 * writev per subscriber per write (bench fanout sse/ndjson: server CPU per delivery).
 */
export function chunkedFraming(inner: Framing): Framing {
  let f = made.get(inner)
  if (!f) {
    f = defineFraming({
      name: `${inner.name}/chunked`,
      chunked: true,
      reply: (reply) => chunk(inner.reply(reply)),
      transmit: (identifier, message) => chunk(inner.transmit(identifier, message)),
      data: (prepared) => chunk(prepared.bytes(inner)),
    })
    made.set(inner, f)
  }
  return f
}

/** The payload of a run of whole chunks (for the rare write that must go through the response after all). */
export function unchunk(data: Buffer): Buffer {
  const parts: Buffer[] = []
  let i = 0
  while (i < data.length) {
    const nl = data.indexOf(CRLF, i)
    const size = parseInt(data.toString('latin1', i, nl), 16)
    parts.push(data.subarray(nl + 2, nl + 2 + size))
    i = nl + 2 + size + 2
  }
  return parts.length === 1 ? parts[0] : Buffer.concat(parts)
}
