import type { Broker, BrokerEvents, BrokerState, History, HistoryQuery } from '../broker/broker.js'
import { PreparedBroadcast, type Predecessor } from '../framing/prepared-broadcast.js'
import type { Diagnostics } from '../observability/diagnostics.js'
import { DEFAULT_MAX_JSON_DEPTH } from '../protocol/json-depth.js'
import { canonicalData, replies, type StreamMessage } from '../protocol/messages.js'
import type { Subscriber } from './subscriber.js'

/** A stream's local subscribers, and whether the broker delivers it yet. */
interface StreamGroup {
  readonly subscribers: Set<Subscriber>
  /** Resolves once the broker delivers the stream live; undefined once it does. */
  ready: Promise<void> | undefined
  /**
   * The last broadcast for each identifier, kept only where a framing compresses along the stream
   * (ws-deflate.ts): one, or a Map when the stream's subscribers use several identifiers.
   */
  previous?: Predecessor | Map<string, Predecessor>
}

function predecessor(group: StreamGroup, identifier: string): Predecessor | undefined {
  const kept = group.previous
  if (kept === undefined) return undefined
  return kept instanceof Map ? kept.get(identifier) : kept.identifier === identifier ? kept : undefined
}

/**
 * Keeps what this fan-out's broadcasts leave to the next one: `last`, and `others` for a stream
 * with several identifiers. Written only where a framing followed the stream: other groups keep
 * their shape (memory per stream).
 */
function keepPredecessors(group: StreamGroup, last: PreparedBroadcast | undefined, others: Map<string, PreparedBroadcast> | undefined): void {
  if (others === undefined) {
    if (last?.followed) group.previous = last.asPredecessor()
    else if (group.previous !== undefined) group.previous = undefined
    return
  }
  // Allocated only when some identifier's framing followed the stream.
  let kept: Map<string, Predecessor> | undefined
  for (const p of others.values()) if (p.followed) (kept ??= new Map()).set(p.identifier, p.asPredecessor())
  if (last!.followed) (kept ??= new Map()).set(last!.identifier, last!.asPredecessor())
  if (kept !== undefined || group.previous !== undefined) group.previous = kept
}

/** Counters the metrics read when scraped: plain integers, so the hot path pays one add. */
export interface HubCounters {
  published: number
  deliveries: number
  subscriptions: number
  gapsRecovered: number
  brokerReconnects: number
}

/**
 * The node's streams: local subscribers by stream, and the broker behind them. Fans out each
 * broker message with one encoding per identifier and framing, shared by every subscriber, and
 * subscribes the broker to a stream only while it has local subscribers. It knows subscribers
 * only through the Subscriber interface.
 */
export class Hub {
  readonly broker: Broker
  readonly counters: HubCounters = { published: 0, deliveries: 0, subscriptions: 0, gapsRecovered: 0, brokerReconnects: 0 }
  /**
   * Subscribers by stream, one flat Set each: no per-identifier Map, since a stream's subscribers
   * nearly always share one identifier (≈200 B less per idle one-stream connection; bench idle).
   */
  private readonly streams = new Map<string, StreamGroup>()
  /** Handlers of control messages (Broker.notify), by topic. */
  private readonly controlHandlers = new Map<string, ((payload: string) => void)[]>()
  private readonly reconnectHandlers: (() => void)[] = []

  constructor(
    createBroker: (events: BrokerEvents) => Broker,
    private readonly diagnostics: Diagnostics,
    /** Deepest JSON accepted in a publication's data (`--max-json-depth`). */
    private readonly maxJsonDepth = DEFAULT_MAX_JSON_DEPTH,
  ) {
    this.broker = createBroker({
      message: this.fanOut,
      resubscribed: () => this.resubscribed(),
      stateChanged: (state: BrokerState, detail?: string) => diagnostics.brokerState(this.broker.kind, state, detail),
      notified: (topic: string, payload: string) => this.notified(topic, payload),
    })
  }


  /** Publishes to a stream: canonical JSON once, then broker append + fan-out. */
  publish(stream: string, data: unknown): Promise<StreamMessage> {
    this.counters.published++
    return this.broker.publish(stream, canonicalData(data, this.maxJsonDepth))
  }

  /**
   * Several publications in order; the messages themselves when the broker can finish at once
   * (the memory broker: no promise per publication in a 500-message `POST /_broadcast`).
   */
  publishBatch(list: readonly { stream: string; data: unknown }[]): StreamMessage[] | Promise<StreamMessage[]> {
    this.counters.published += list.length
    return this.broker.publishBatch(list.map((p) => ({ stream: p.stream, data: canonicalData(p.data, this.maxJsonDepth) })))
  }

  /** Sends a control message to every node (this one included), at most once: see Broker.notify. */
  notify(topic: string, payload: string): Promise<void> {
    return this.broker.notify(topic, payload)
  }

  /** Handles the control messages of one topic. */
  onNotified(topic: string, handler: (payload: string) => void): void {
    this.controlHandlers.set(topic, [...(this.controlHandlers.get(topic) ?? []), handler])
  }

  /** Runs after every broker reconnect (the broker may have come back without its data). */
  onResubscribed(handler: () => void): void {
    this.reconnectHandlers.push(handler)
  }

  private notified(topic: string, payload: string): void {
    for (const handler of this.controlHandlers.get(topic) ?? []) {
      try {
        handler(payload)
      } catch (err) {
        this.diagnostics.requestFail(`control message on ${topic}`, err)
      }
    }
  }

  history(stream: string, query?: HistoryQuery): Promise<History> {
    return this.broker.history(stream, query)
  }

  /**
   * Adds a subscriber. Returns undefined when its stream is delivered live already, else a
   * promise that resolves once it is (the broker's first subscribe to the stream is a round trip
   * on a network broker) and rejects when the broker cannot subscribe; the subscriber is then
   * removed again.
   */
  subscribe(sub: Subscriber): Promise<void> | undefined {
    let group = this.streams.get(sub.stream)
    if (!group) {
      group = { subscribers: new Set(), ready: undefined }
      this.streams.set(sub.stream, group)
      const ready = this.broker.subscribe(sub.stream)
      if (ready !== undefined) group.ready = this.settle(sub.stream, group, ready)
    }
    group.subscribers.add(sub)
    this.counters.subscriptions++
    return group.ready
  }

  unsubscribe(sub: Subscriber): void {
    const group = this.streams.get(sub.stream)
    if (!group || !group.subscribers.delete(sub)) return
    this.counters.subscriptions--
    if (group.subscribers.size > 0) return
    this.streams.delete(sub.stream)
    this.broker.unsubscribe(sub.stream)
  }

  /** Local subscribers of a stream (all identifiers). */
  subscriberCount(stream: string): number {
    return this.streams.get(stream)?.subscribers.size ?? 0
  }

  /** Streams with at least one local subscriber. */
  get streamCount(): number {
    return this.streams.size
  }

  private async settle(stream: string, group: StreamGroup, ready: Promise<void>): Promise<void> {
    try {
      await ready
      group.ready = undefined
    } catch (err) {
      // Nobody is subscribed after all: the next subscriber of this stream asks the broker again.
      if (this.streams.get(stream) === group) this.streams.delete(stream)
      this.counters.subscriptions -= group.subscribers.size
      group.subscribers.clear()
      this.diagnostics.brokerError('subscribe', err)
      throw err
    }
  }

  /**
   * The broker's message listener: one PreparedBroadcast per identifier, its bytes shared by
   * every subscriber. The current identifier's is reused while it repeats (the usual case: one),
   * so the walk allocates nothing per subscriber; a Map appears only for a stream with mixed
   * identifiers.
   */
  private readonly fanOut = (message: StreamMessage): void => {
    const group = this.streams.get(message.stream)
    if (!group) return
    let identifier: string | undefined
    let prepared: PreparedBroadcast | undefined
    let others: Map<string, PreparedBroadcast> | undefined
    for (const sub of group.subscribers) {
      if (sub.identifier !== identifier) {
        if (prepared !== undefined) (others ??= new Map()).set(prepared.identifier, prepared)
        identifier = sub.identifier
        prepared = others?.get(identifier) ?? new PreparedBroadcast(identifier, message, (sub.dataHead ??= replies.dataHead(identifier)), predecessor(group, identifier))
      }
      // One subscriber that throws must not cost the rest this message.
      try {
        sub.deliver(prepared!)
      } catch (err) {
        sub.fail(err)
      }
    }
    this.counters.deliveries += group.subscribers.size
    keepPredecessors(group, prepared, others)
  }

  /** After a broker reconnect, every subscriber learns where its stream stands and recovers what it missed. */
  private resubscribed(): void {
    this.counters.brokerReconnects++
    for (const handler of this.reconnectHandlers) {
      try {
        handler()
      } catch (err) {
        this.diagnostics.requestFail('broker reconnect handler', err)
      }
    }
    for (const [stream, group] of this.streams) {
      this.broker.history(stream, { limit: 0 }).then(
        ({ top }) => {
          for (const sub of group.subscribers) {
            try {
              sub.checkTop(top)
            } catch (err) {
              sub.fail(err)
            }
          }
        },
        (err: unknown) => this.diagnostics.brokerError('history after reconnect', err),
      )
    }
  }
}
