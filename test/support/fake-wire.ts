import type { Wire, WireInfo } from '../../src/core/wire.js'
import type { Disconnect } from '../../src/disconnect.js'
import { defineFraming } from '../../src/framing/framing.js'

/**
 * A framing that writes every reply, transmission and broadcast as its JSON text, one frame each,
 * so a test reads what a client would parse.
 */
export const textFraming = defineFraming({
  name: 'test-text',
  reply: (reply) => Buffer.from(reply.json),
  transmit: (identifier, message) => Buffer.from(`{"identifier":${JSON.stringify(identifier)},"message":${message}}`),
  data: (prepared) => Buffer.from(prepared.json()),
})

/**
 * The one fake the suite allows: a Wire that records what the core writes and plays
 * the kernel's backpressure on demand, for unit tests of the outbox, the connection and the hub.
 */
export class FakeWire implements Wire {
  readonly info: WireInfo
  /** Each write call's frames, as strings. */
  readonly writes: string[][] = []
  /** Every frame's bytes, in order (for binary framings such as WebSocket's). */
  readonly bytes: Buffer[] = []
  /** What the next writes return (false = the kernel is full). */
  accept = true
  bufferedBytes = 0
  closedWith: Disconnect | undefined

  constructor(info: Partial<WireInfo> = {}) {
    this.info = { transport: 'ws', httpVersion: '1.1', bidirectional: true, extended: true, restorable: true, framing: textFraming, ...info }
  }

  write(frames: Buffer[]): boolean {
    this.writes.push(frames.map((f) => f.toString()))
    this.bytes.push(...frames)
    return this.accept
  }

  close(reason: Disconnect): void {
    this.closedWith = reason
  }

  /** Every frame written so far, parsed as JSON, in order. */
  messages(): any[] {
    return this.writes.flat().filter((f) => f.length > 0).map((f) => JSON.parse(f))
  }
}
