import { DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream'
import { headers, nanos, type MsgHdrs } from '@nats-io/transport-node'
import type { StreamMessage } from '../protocol/messages.js'
import type { NatsNames } from './nats-names.js'
import { isStreamNotFound } from './nats-store.js'

/**
 * How a Herald stream's dense offsets come out of JetStream (docs/brokers.md has the long form):
 * ONE JetStream stream keeps every Herald stream, each on a subject of its own; JetStream's
 * sequence is per JetStream stream, so each message carries its Herald offset and epoch in
 * headers. A publish names the sequence of the subject's last message
 * (Nats-Expected-Last-Subject-Sequence): when another node got in first the server refuses it,
 * and the publisher reads the new last message and tries again, so offsets stay dense and
 * unique. A subject's messages all share one epoch: when they are all gone (max_age), the next
 * publish finds none and starts a new epoch at 1. A stream read before its first publish gets
 * an offset-0 marker message, so its epoch is fixed and the first publish continues it.
 */
export const H_OFFSET = 'Herald-Offset'
export const H_EPOCH = 'Herald-Epoch'
export const H_AT = 'Herald-At'

/** The last message of a Herald stream's subject: its JetStream sequence and Herald position. */
export interface Top {
  seq: number
  offset: number
  epoch: string
}

export interface NatsLogOptions {
  historyLimit: number
  historyTtlMs: number
  /** JetStream replicas of the history stream (1 on a single server; 3 on a NATS cluster). */
  replicas: number
}

/** Longest a history read waits for its messages (the server normally sends them at once). */
const READ_DEADLINE_MS = 5000

/** The JetStream side of the NATS broker: the history stream, reads and conditional appends. */
export class NatsLog {
  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly names: NatsNames,
    private readonly options: NatsLogOptions,
  ) {}

  /** Makes the history stream, or brings its limits in line with this node's options. */
  async ensureStream(): Promise<void> {
    const { historyLimit, historyTtlMs, replicas } = this.options
    const n = this.names
    const config: Partial<StreamConfig> & { name: string } = {
      name: n.historyStream,
      subjects: [`${n.prefix}.s.>`],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      // The last message carries the stream's position, so at least one is kept whatever the limit.
      max_msgs_per_subject: Math.max(1, historyLimit),
      max_age: nanos(historyTtlMs),
      // No Nats-Msg-Id is sent; the window must only not exceed max_age.
      duplicate_window: nanos(Math.min(historyTtlMs, 120_000)),
      num_replicas: replicas,
      allow_direct: true,
      // Stored messages only (a publish refused by its sequence check is not), with their sequence.
      republish: { src: `${n.prefix}.s.>`, dest: `${n.prefix}.live.>` },
    }
    try {
      const info = await this.jsm.streams.info(n.historyStream)
      const c = info.config
      if (c.max_msgs_per_subject !== config.max_msgs_per_subject || c.max_age !== config.max_age || !c.republish || !c.allow_direct) {
        await this.jsm.streams.update(n.historyStream, config).catch((err: unknown) => {
          // nats-server 2.9 cannot add republish to a stream; live delivery needs it.
          if (c.republish) throw err
          throw new Error(`JetStream stream ${n.historyStream} has no republish, which live delivery needs, and the server refused to add it `
            + `(${(err as Error)?.message ?? err}): remove the stream (its history is lost) or use another --broker-prefix`, { cause: err })
        })
      }
    } catch (err) {
      if (!isStreamNotFound(err)) throw err
      try {
        await this.jsm.streams.add(config)
      } catch (addErr) {
        // Nodes starting together: another one made it first (the server may say "subjects overlap").
        await this.jsm.streams.info(n.historyStream).catch(() => Promise.reject(addErr))
      }
    }
  }

  /** The subject's last message, or undefined when it has none (never published, or all expired). */
  async top(stream: string): Promise<Top | undefined> {
    const m = await this.jsm.direct.getMessage(this.names.historyStream, { last_by_subj: this.names.stored(stream) })
    if (!m) return undefined
    return { seq: m.seq, offset: Number(m.header.get(H_OFFSET)) || 0, epoch: m.header.get(H_EPOCH) }
  }

  /**
   * Appends on the condition that the subject's last message is still `after` (none when
   * undefined); rejects with JetStream's "wrong last sequence" (10071) otherwise.
   */
  async append(stream: string, data: string, offset: number, epoch: string, after: Top | undefined): Promise<{ seq: number; at: number }> {
    const at = Date.now()
    const h = headers()
    h.set(H_OFFSET, String(offset))
    h.set(H_EPOCH, epoch)
    h.set(H_AT, String(at))
    const ack = await this.js.publish(this.names.stored(stream), data, { headers: h, expect: { lastSubjectSequence: after?.seq ?? 0 } })
    return { seq: ack.seq, at }
  }

  /**
   * The subject's kept messages up to `top`, oldest first: an ordered consumer on the one subject
   * (a single filter subject as a string: an array needs nats-server 2.10). Markers, messages of
   * another epoch, messages past --history-limit and messages older than --history-ttl that the
   * server has not swept yet are left out.
   */
  async kept(stream: string, top: Top): Promise<StreamMessage[]> {
    const consumer = await this.js.consumers.get(this.names.historyStream, {
      filter_subjects: this.names.stored(stream),
      deliver_policy: DeliverPolicy.All,
    })
    const out: StreamMessage[] = []
    const messages = await consumer.consume({ max_messages: Math.min(1000, this.options.historyLimit + 2) })
    const timer = setTimeout(() => messages.stop(), READ_DEADLINE_MS)
    try {
      for await (const m of messages) {
        const message = m.headers && this.message(stream, m.headers, m.string())
        if (message && message.epoch === top.epoch) out.push(message)
        if (m.seq >= top.seq || m.info.pending === 0) break
      }
    } finally {
      clearTimeout(timer)
      messages.stop()
    }
    const lowest = top.offset - this.options.historyLimit
    const cutoff = Date.now() - this.options.historyTtlMs
    return out.filter((m) => m.offset > lowest && m.at >= cutoff)
  }

  /** A Herald message from a stored or republished one; undefined for a marker (offset 0). */
  message(stream: string, h: MsgHdrs, data: string): StreamMessage | undefined {
    const offset = Number(h.get(H_OFFSET))
    if (!(offset > 0)) return undefined
    return { stream, data, offset, epoch: h.get(H_EPOCH), at: Number(h.get(H_AT)) }
  }
}
