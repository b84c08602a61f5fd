import type { Reply } from '../protocol/messages.js'
import type { PreparedBroadcast } from './prepared-broadcast.js'

/**
 * How protocol messages become bytes on one kind of wire. A framing encodes each broadcast once
 * for all of its wires: PreparedBroadcast caches the bytes by the framing's `id`.
 */
export interface Framing {
  /** Small dense integer from `defineFraming`: the framing's slot in per-broadcast caches. */
  readonly id: number
  readonly name: string
  /** Frames are whole HTTP/1.1 chunks, written to the socket as they are (chunked.ts). */
  readonly chunked: boolean
  /** A protocol reply; an empty buffer when this wire leaves that type out. */
  reply(reply: Reply): Buffer
  /** An unpositioned message for `identifier` (a job's snapshot); `message` is JSON text. */
  transmit(identifier: string, message: string): Buffer
  /** A positioned broadcast; `prepared.json()` builds the whole data reply for framings that send it. */
  data(prepared: PreparedBroadcast): Buffer
  /**
   * Only for framings whose frames may refer back to what the same wire got before
   * (permessage-deflate with a context along a stream, ws-deflate.ts): the broadcast's bytes for
   * a wire whose last window-changing frame was broadcast `last` (its seq; 0 for none or
   * unknown). Every broadcast to such a wire goes through here, so that `last` stays true.
   */
  follow?(prepared: PreparedBroadcast, last: number): Buffer
  /** With `follow`: whether `frame` changes the receiver's window (a compressed frame does). */
  extendsWindow?(frame: Buffer): boolean
}

export const EMPTY_FRAME = Buffer.alloc(0)

let nextId = 0

/** Registers a framing: it gets the next free cache slot. Adding a framing is one call. */
export function defineFraming(definition: Omit<Framing, 'id' | 'chunked'> & { chunked?: boolean }): Framing {
  return Object.freeze({ chunked: false, ...definition, id: nextId++ })
}

/** How many framings exist (the size of a full per-broadcast cache). */
export function framingCount(): number {
  return nextId
}
