import { replies, type StreamMessage } from '../protocol/messages.js'
import type { Framing } from './framing.js'

/**
 * One broadcast for one channel identifier, encoded lazily and at most once per framing, then
 * shared by every subscriber of that identifier (centrifuge's preparedKey). The whole
 * Action Cable data reply is built only if a framing asks for it.
 */
export class PreparedBroadcast {
  private text: string | undefined
  private readonly frames: (Buffer | undefined)[] = []

  constructor(
    readonly identifier: string,
    readonly message: StreamMessage,
    /** `replies.dataHead(identifier)` when the caller has it cached (the hub's fan-out). */
    private readonly head?: string,
  ) {}

  /** `{"identifier","message",stream_id,epoch,offset}` as JSON text, built once. */
  json(): string {
    return (this.text ??= replies.dataAfter(this.head ?? replies.dataHead(this.identifier), this.message))
  }

  bytes(framing: Framing): Buffer {
    return (this.frames[framing.id] ??= framing.data(this))
  }
}
