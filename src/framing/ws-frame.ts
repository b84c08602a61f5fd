import { Sender } from 'ws'
import { defineFraming } from './framing.js'

const FRAME_OPTS = { fin: true, opcode: 0x01, mask: false, readOnly: false, rsv1: false } as const

/**
 * RFC 6455 text frames built once with ws's own framer and written raw to every socket, so a
 * broadcast costs one encode for all subscribers (docs/node-notes.md §2: frame once + batch ≈ 8×).
 */
export function wsTextFrame(text: string): Buffer {
  const list = Sender.frame(Buffer.from(text, 'utf8'), FRAME_OPTS) as Buffer[]
  return list.length === 1 ? list[0] : Buffer.concat(list)
}

/** WebSocket: every reply and message whole, one text frame each. */
export const wsFraming = defineFraming({
  name: 'ws-text',
  reply: (reply) => wsTextFrame(reply.json),
  transmit: (identifier, message) => wsTextFrame(`{"identifier":${JSON.stringify(identifier)},"message":${message}}`),
  data: (prepared) => wsTextFrame(prepared.json()),
})
