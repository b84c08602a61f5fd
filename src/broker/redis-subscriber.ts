import type { RedisClient } from './redis-connect.js'

/**
 * The node's one subscriber connection (a Redis connection in subscribe mode runs no other
 * command, hence its own): every stream the node's clients want, plus the control channel.
 * SUBSCRIBE replies come in order on one connection, so a subscribe that raced an unsubscribe
 * of the same channel ends in the state asked last. After a reconnect it subscribes everything
 * again itself (ioredis's autoResubscribe would not say when it is done).
 */
export class RedisSubscriber {
  /** Channel → stream for every stream subscribed (or being subscribed). */
  private readonly channels = new Map<string, string>()

  constructor(
    readonly client: RedisClient,
    private readonly control: string,
    onMessage: (stream: string, payload: string) => void,
    onControl: (payload: string) => void,
  ) {
    client.on('message', (channel: string, payload: string) => {
      const stream = this.channels.get(channel)
      if (stream !== undefined) onMessage(stream, payload)
      else if (channel === control) onControl(payload)
    })
  }

  get size(): number {
    return this.channels.size
  }

  /** Resolves once Redis confirmed the SUBSCRIBE; rejects (and forgets the stream) when it cannot. */
  async subscribe(stream: string, channel: string): Promise<void> {
    this.channels.set(channel, stream)
    try {
      await this.client.subscribe(channel)
    } catch (err) {
      if (this.channels.get(channel) === stream) this.channels.delete(channel)
      throw err
    }
  }

  unsubscribe(channel: string): void {
    if (!this.channels.delete(channel)) return
    // Nothing to do when down: the channel is simply not subscribed again on reconnect.
    if (this.client.status === 'ready') this.client.unsubscribe(channel).catch(() => {})
  }

  /** After a (re)connect: the control channel and every wanted stream, a thousand per command. */
  async subscribeAll(): Promise<void> {
    const all = [this.control, ...this.channels.keys()]
    const chunks: Promise<unknown>[] = []
    for (let i = 0; i < all.length; i += 1000) chunks.push(this.client.subscribe(...all.slice(i, i + 1000)))
    await Promise.all(chunks)
  }
}
