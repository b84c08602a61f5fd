import { replies, type StreamMessage } from '../protocol/messages.js'
import type { Framing } from '../core/wire.js'

/**
 * One broadcast for one channel identifier, encoded lazily and at most once per framing, then
 * shared by every subscriber of that identifier (centrifuge's preparedKey; STYLE §8).
 */
export class PreparedBroadcast {
  private json: string | undefined
  private readonly frames: (Buffer | undefined)[] = []

  constructor(
    readonly identifier: string,
    readonly message: StreamMessage,
    /** `replies.dataHead(identifier)` when the caller has it cached (Hub.fanOut). */
    private readonly head?: string,
  ) {}

  bytes(framing: Framing): Buffer {
    let frame = this.frames[framing.id]
    if (frame === undefined) {
      this.json ??= replies.dataAfter(this.head ?? replies.dataHead(this.identifier), this.message)
      frame = framing.data(this.json, this.identifier, this.message)
      this.frames[framing.id] = frame
    }
    return frame
  }
}
