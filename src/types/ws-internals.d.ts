// ws exports these at runtime (index.js, wrapper.mjs) but @types/ws does not declare them.
// Pinned: package.json fixes ws to an exact version because these are internals.
import 'ws'

declare module 'ws' {
  interface FrameOptions {
    fin: boolean
    opcode: number
    mask: boolean
    readOnly: boolean
    rsv1: boolean
    maskBuffer?: Buffer
    generateMask?: (mask: Buffer) => void
  }
  export const Sender: {
    /** RFC 6455 framing of `data`: returns [header, payload] or one buffer. */
    frame(data: Buffer, options: FrameOptions): Buffer[]
  }
  interface WebSocket {
    /** Attaches an already-upgraded duplex (used for RFC 8441 streams). @private in ws. */
    setSocket(socket: import('node:stream').Duplex, head: Buffer, options: Record<string, unknown>): void
  }
}
