import { Sender } from 'ws'
import type { Framing } from '../core/wire.js'

const FRAME_OPTS = { fin: true, opcode: 0x01, mask: false, readOnly: false, rsv1: false } as const

/**
 * RFC 6455 text frames built once with ws's own framer and written raw to every socket, so a
 * broadcast costs one encode for all subscribers (node-platform-notes §2: frame once + batch ≈ 8×).
 */
export function wsTextFrame(text: string): Buffer {
  const list = Sender.frame(Buffer.from(text, 'utf8'), FRAME_OPTS) as Buffer[]
  return list.length === 1 ? list[0] : Buffer.concat(list)
}

export const wsFraming: Framing = {
  id: 0,
  name: 'ws-text',
  reply: wsTextFrame,
  data: (json) => wsTextFrame(json),
}
