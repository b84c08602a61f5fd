// ws exports these at runtime (index.js, wrapper.mjs) but @types/ws does not declare them.
// Pinned: package.json fixes ws to an exact version because these are internals.
import 'ws'
import type { Duplex, Writable } from 'node:stream'

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
  export const subprotocol: {
    /** Parses a Sec-WebSocket-Protocol header; throws SyntaxError on a malformed one. */
    parse(header: string): Set<string>
  }
  /** RFC 6455 frame parser; `isServer: false` reads unmasked server frames (test clients). */
  export class Receiver extends Writable {
    constructor(options?: { isServer?: boolean; maxPayload?: number; skipUTF8Validation?: boolean })
  }
  interface WebSocket {
    /** The negotiated subprotocol, set by the server before `setSocket`. @private in ws. */
    _protocol: string
    /** Attaches an already-upgraded duplex (used for RFC 8441 streams). @private in ws. */
    setSocket(socket: Duplex, head: Buffer, options: Record<string, unknown>): void
    /** Automatic pongs not yet written, and the most allowed (`maxPendingAutoPongs`); over it ws terminates. @private in ws. */
    _pendingAutoPongs: number
    _maxPendingAutoPongs: number
  }
}
