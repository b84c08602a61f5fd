import { replies, type StreamMessage } from '../protocol/messages.js'
import type { Framing } from './framing.js'

/**
 * One broadcast for one channel identifier, encoded lazily and at most once per framing, then
 * shared by every subscriber of that identifier (centrifuge's preparedKey). The whole
 * Action Cable data reply is built only if a framing asks for it.
 */
let lastSeq = 0

/**
 * What a broadcast leaves to the next one for the same identifier on its stream: a framing that
 * compresses along a stream (ws-deflate.ts) compresses the next one against its text, for the
 * wires that had it last.
 */
export interface Predecessor {
  /** The broadcast's `seq`. */
  readonly seq: number
  readonly identifier: string
  /**
   * Its data reply: what a client that got it compressed holds at the end of its window. Kept as
   * text, not bytes: a small Buffer is a slice of Node's 8 KiB pool and would keep all of it.
   */
  readonly text: string
}

export class PreparedBroadcast {
  /** Unique in this process: a wire tells by it which broadcast it got last (see Framing.follow). */
  readonly seq = ++lastSeq
  /** Set when a framing that compresses along a stream encoded it: the hub then keeps it for the next one. */
  followed = false
  private text: string | undefined
  private utf8: Buffer | undefined
  private readonly frames: (Buffer | undefined)[] = []

  constructor(
    readonly identifier: string,
    readonly message: StreamMessage,
    /** `replies.dataHead(identifier)` when the caller has it cached (the hub's fan-out). */
    private readonly head?: string,
    /** The stream's previous broadcast for the same identifier, when the hub kept it (see Framing.follow). */
    readonly previous?: Predecessor,
  ) {}

  /** `{"identifier","message",stream_id,epoch,offset}` as JSON text, built once. */
  json(): string {
    return (this.text ??= replies.dataAfter(this.head ?? replies.dataHead(this.identifier), this.message))
  }

  /** `json()` as UTF-8, made once. */
  payload(): Buffer {
    return (this.utf8 ??= Buffer.from(this.json(), 'utf8'))
  }

  /** What the next broadcast of this stream may be compressed against. */
  asPredecessor(): Predecessor {
    return { seq: this.seq, identifier: this.identifier, text: this.json() }
  }

  bytes(framing: Framing): Buffer {
    return (this.frames[framing.id] ??= framing.data(this))
  }
}
