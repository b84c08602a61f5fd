import { randomBytes } from 'node:crypto'
import { HistoryUnavailable, type History, type HistoryQuery } from '../broker/broker.js'
import { Disconnects, type Disconnect } from '../disconnect.js'
import type { Framing } from '../framing/framing.js'
import { PreparedBroadcast } from '../framing/prepared-broadcast.js'
import { decodeCommand, ProtocolError } from '../protocol/codec.js'
import { replies, type HistoryRequest, type Reply, type StreamMessage, type StreamPosition } from '../protocol/messages.js'
import type { ConnectionContext } from './context.js'
import { Outbox, type OutboxOwner } from './outbox.js'
import type { SessionState } from './session-cache.js'
import { Subscription, type StreamEnd } from './subscription.js'
import type { TransportName, Wire, WireRequest, WireSink } from './wire.js'

/** How long restored subscriptions hold live messages waiting for the client's history request. */
const RESTORE_HOLD_MS = 5000

/** What a held broadcast is charged: its payload plus the reply's envelope, roughly. */
function heldSize(p: PreparedBroadcast): number {
  return p.message.data.length + p.identifier.length + 64
}

export function newSessionId(): string {
  return randomBytes(16).toString('base64url')
}

/** A channel of a session that moves between nodes, with where each of its streams got to. */
export interface ChannelPositions {
  readonly identifier: string
  /** `epoch` empty when the stream had no position yet. */
  readonly streams: ReadonlyArray<{ stream: string; epoch: string; offset: number }>
}

export interface SubscribeOptions {
  /** The stream's last message (a job's final event): the connection ends `complete` after it. */
  endsWith?: StreamEnd
}

/** Why a catch-up runs: a new subscription (confirmed once positioned), a `history` command, a session moved here. */
type CatchUpMode = 'subscribe' | 'history' | 'resume'

/** One stream's history read for a catch-up: `rejected` says why the asked-for position could not be served. */
interface Read {
  history: History
  rejected?: string
}

/** Why a subscribe was refused, for transports that answer it with a status (SSE, NDJSON: 400 or 503). */
export type SubscribeOutcome = { ok: true } | { ok: false; why: string; unavailable: boolean }

const SUBSCRIBED: SubscribeOutcome = Object.freeze({ ok: true })

/**
 * The per-client state machine: welcome (or restore), commands, subscriptions with their
 * positions, the outbox, and disconnect. It knows a Wire and its context, never a socket.
 *
 * Every subscription starts by holding live messages: the broker delivers the stream first,
 * then history (or the stream's top position) is read, replayed and followed by the held
 * messages without duplicates, so nothing published in between is lost. Live messages whose
 * offset jumps (a network broker's pub/sub dropped some) are recovered from history the same way.
 */
export class Connection implements WireSink, OutboxOwner {
  readonly sid: string
  readonly outbox: Outbox
  readonly framing: Framing
  readonly openedAt: number
  lastSeen: number
  /** Where the client came from; the request itself is not retained (memory per idle connection). */
  readonly remoteAddress: string | undefined
  /** Channel identifier → one subscription per stream of that channel. */
  private readonly channels = new Map<string, Subscription[]>()
  /** Restored channels still waiting for the client's history request; allocated only on restore. */
  private restorePending: Set<string> | undefined
  private restoreDeadline = 0
  /** Bytes of live messages held while history is replayed (see `deliver`). */
  private heldBytes = 0
  /** Catch-ups under way, and who waits for them all to end (see `whenSettled`). */
  private catchingUp = 0
  private settledWaiters: (() => void)[] | undefined
  private done = false
  /** For a framing that compresses along a stream: the seq of the last broadcast that changed the client's window (Framing.follow). */
  private windowEnd = 0

  constructor(
    private readonly ctx: ConnectionContext,
    readonly wire: Wire,
    request: WireRequest,
    /** The session's id when it continues on this node (a long-poll session moved here); new otherwise. */
    sid?: string,
  ) {
    this.sid = sid ?? newSessionId()
    this.framing = wire.info.framing
    this.remoteAddress = request.remoteAddress
    this.outbox = new Outbox(wire, ctx.outboxBytes, this)
    this.openedAt = this.lastSeen = Date.now()
  }

  get isOpen(): boolean {
    return !this.done
  }

  get transport(): TransportName {
    return this.wire.info.transport
  }

  /** Identifiers this connection is subscribed to. */
  get identifiers(): string[] {
    return [...this.channels.keys()]
  }

  /** Sends `welcome`; with the state of a session being restored, resubscribes its channels first. */
  open(restored?: { from: string; state: SessionState }): void {
    if (!restored) {
      this.send(replies.welcome(this.sid))
      return
    }
    const ids: string[] = []
    this.restorePending = new Set()
    for (const { identifier, streams } of restored.state.channels) {
      // Held until the client says where it is (its `history` command), so nothing is sent twice.
      const subs = streams.map((stream) => this.track(new Subscription(this, identifier, stream)))
      this.channels.set(identifier, subs)
      this.restorePending.add(identifier)
      ids.push(identifier)
    }
    this.restoreDeadline = Date.now() + RESTORE_HOLD_MS
    this.ctx.changed(this)
    this.ctx.diagnostics.sessionRestore(this.sid, restored.from, ids.length)
    this.send(replies.welcome(this.sid, ids))
  }

  /**
   * Takes over a session that lives on across nodes (a long-poll session whose poll came here):
   * no welcome and no confirmations (the client had them), each channel subscribed again and
   * caught up from the positions it had reached, so the client misses nothing and gets nothing twice.
   */
  resume(channels: readonly ChannelPositions[]): void {
    for (const { identifier, streams } of channels) {
      const subs = streams.map(({ stream }) => this.track(new Subscription(this, identifier, stream)))
      this.channels.set(identifier, subs)
      const positions: Record<string, StreamPosition> = {}
      for (const { stream, epoch, offset } of streams) if (epoch) positions[stream] = { epoch, offset }
      this.catchUp(identifier, subs, { streams: positions }, undefined, 'resume').catch(this.failed)
    }
  }

  /** Each channel's streams and the position each reached (what `resume` takes on another node). */
  positions(): ChannelPositions[] {
    return [...this.channels].map(([identifier, subs]) => ({
      identifier,
      streams: subs.map((s) => ({ stream: s.stream, epoch: s.lastEpoch, offset: s.lastOffset })),
    }))
  }

  /** Can a client come back to this connection by its sid? */
  get restorable(): boolean {
    return this.wire.info.extended && this.wire.info.restorable
  }

  /** What a restore by this connection's sid brings back: its channels and their streams. */
  sessionState(): SessionState {
    return { channels: [...this.channels].map(([identifier, subs]) => ({ identifier, streams: subs.map((s) => s.stream) })) }
  }

  /** Queues one protocol reply. */
  send(reply: Reply): void {
    this.outbox.push(this.framing.reply(reply))
  }

  /** Queues one broadcast: every broadcast goes through here, so `windowEnd` is always the client's. */
  private sendData(prepared: PreparedBroadcast): void {
    const framing = this.framing
    if (framing.follow === undefined) {
      this.outbox.push(prepared.bytes(framing))
      return
    }
    const frame = framing.follow(prepared, this.windowEnd)
    if (framing.extendsWindow!(frame)) this.windowEnd = prepared.seq
    this.outbox.push(frame)
  }

  /** Hot path: one broadcast for one of this connection's subscriptions. */
  deliver(sub: Subscription, prepared: PreparedBroadcast): void {
    if (sub.held !== null) {
      // Held messages wait in memory like queued frames, so they count against the same budget.
      sub.held.push(prepared)
      this.heldBytes += heldSize(prepared)
      if (this.heldBytes + this.outbox.totalBytes > this.ctx.outboxBytes) this.tooSlow()
      return
    }
    const m = prepared.message
    if (m.epoch === sub.lastEpoch) {
      if (m.offset <= sub.lastOffset) return
      if (m.offset !== sub.lastOffset + 1) return this.recover(sub, prepared)
    }
    sub.lastEpoch = m.epoch
    sub.lastOffset = m.offset
    this.sendData(prepared)
    if (sub.endsWith !== undefined && sub.endsWith(m)) this.streamEnded(sub)
  }

  /** After a broker reconnect: recover what the subscription missed, if the stream moved on. */
  checkTop(sub: Subscription, top: StreamPosition): void {
    // A catch-up in progress reads history anyway; an unpositioned subscription has nothing to compare.
    if (this.done || sub.held !== null || sub.lastEpoch === '') return
    if (top.epoch === sub.lastEpoch) {
      if (top.offset > sub.lastOffset) this.recover(sub, undefined)
      return
    }
    // The stream's history was lost while the broker was away: from here on, the new epoch.
    if (this.wire.info.extended) this.send(replies.rejectHistory(sub.identifier))
    this.ctx.diagnostics.historyReject(this.sid, sub.identifier, `epoch ${sub.lastEpoch} is gone (now ${top.epoch})`)
    sub.advance(top.epoch, top.offset)
    void this.sendSnapshot(sub.identifier, sub.stream)
  }

  // ---- WireSink ---------------------------------------------------------------------------------

  receive(text: string): void {
    if (this.done) return
    this.lastSeen = Date.now()
    if (this.ctx.commandRate !== undefined && !this.ctx.commandRate.take(this, this.lastSeen)) {
      this.ctx.diagnostics.inputReject('HERALD_ERR_RATE_LIMITED', `more than ${this.ctx.commandRate.ratePerSec} commands a second (--rate-commands-per-connection)`, { sid: this.sid, limit: 'commands' })
      return this.disconnect(Disconnects.rateLimited)
    }
    let command
    try {
      command = decodeCommand(text, this.ctx.commandLimits)
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err
      this.ctx.diagnostics.inputReject('HERALD_ERR_BAD_COMMAND', err.message, { sid: this.sid })
      this.disconnect(Disconnects.invalidCommand)
      return
    }
    switch (command.command) {
      case 'subscribe':
        this.subscribe(command.identifier, command.history).catch(this.failed)
        return
      case 'unsubscribe':
        return this.unsubscribe(command.identifier)
      case 'history':
        this.history(command.identifier, command.history).catch(this.failed)
        return
      case 'ping':
        return this.send(replies.pong())
      case 'pong':
        return
      case 'message':
      case 'whisper':
        // Standalone streams have no actions (AnyCable's $pubsub allows only $-prefixed ones).
        this.ctx.diagnostics.commandIgnore(this.sid, command.command, command.identifier)
        return
    }
  }

  /**
   * A command's handling failed unexpectedly (a bug, or a hook that threw): this connection ends
   * with `internal_error` and a log line; the process and every other connection go on.
   */
  readonly failed = (err: unknown): void => {
    this.ctx.diagnostics.requestFail(`connection ${this.sid}`, err)
    this.disconnect(Disconnects.internal)
  }

  /** Liveness from the transport that is not a command (a WebSocket pong). */
  heard(): void {
    this.lastSeen = Date.now()
  }

  drained(): void {
    this.outbox.drained()
  }

  closed(reason?: Disconnect): void {
    this.cleanup(reason ?? Disconnects.normal)
  }

  // ---- commands ---------------------------------------------------------------------------------

  /**
   * Subscribes to the stream `identifier` names, then catches up: the backlog `history` asks for
   * (extended protocol), the stream's snapshot from the hooks, then live messages. Resolves once
   * all of that is queued, with whether the subscription was confirmed (HTTP transports answer
   * their status then).
   */
  async subscribe(identifier: string, history?: HistoryRequest, options: SubscribeOptions = {}): Promise<SubscribeOutcome> {
    if (this.channels.has(identifier)) return SUBSCRIBED // a duplicate subscribe is ignored, as in AnyCable
    if (this.channels.size >= this.ctx.maxSubscriptions) {
      const why = `this connection holds ${this.channels.size} subscriptions already (--max-subscriptions)`
      this.ctx.diagnostics.subscriptionReject(this.sid, identifier, why)
      this.send(replies.reject(identifier, why))
      return { ok: false, why, unavailable: false }
    }
    const verdict = this.ctx.authorizer.authorize(identifier)
    if (!verdict.ok) {
      this.ctx.diagnostics.subscriptionReject(this.sid, identifier, verdict.why)
      this.send(replies.reject(identifier, verdict.why))
      return { ok: false, why: verdict.why, unavailable: false }
    }
    const sub = this.track(new Subscription(this, identifier, verdict.stream, options.endsWith))
    const subs = [sub]
    this.channels.set(identifier, subs)
    this.ctx.changed(this)
    // Settling from here: the broker's subscribe comes before the catch-up (see `settling`).
    this.catchingUp++
    try {
      return await this.confirmAndCatchUp(identifier, subs, sub, history, verdict.stream)
    } finally {
      this.settled()
    }
  }

  private async confirmAndCatchUp(identifier: string, subs: Subscription[], sub: Subscription, history: HistoryRequest | undefined, stream: string): Promise<SubscribeOutcome> {
    if (sub.ready !== undefined) {
      try {
        await sub.ready
      } catch (err) {
        if (this.channels.get(identifier) !== subs) return { ok: false, why: 'unsubscribed', unavailable: false }
        this.channels.delete(identifier)
        const why = `the broker could not subscribe: ${(err as Error)?.message ?? err}`
        this.ctx.diagnostics.subscriptionReject(this.sid, identifier, why)
        this.send(replies.reject(identifier, why))
        return { ok: false, why, unavailable: true }
      }
      if (this.done || this.channels.get(identifier) !== subs) return { ok: false, why: 'unsubscribed', unavailable: false }
    }
    await this.catchUp(identifier, subs, this.usableRequest(identifier, history), stream, 'subscribe')
    return SUBSCRIBED
  }

  unsubscribe(identifier: string): void {
    const subs = this.channels.get(identifier)
    if (!subs) return
    this.channels.delete(identifier)
    this.restorePending?.delete(identifier)
    for (const sub of subs) this.untrack(sub)
    this.ctx.changed(this)
  }

  /**
   * The `history` command: replays what each stream of the channel kept after the client's
   * position (or since a time), then `confirm_history`; `reject_history` (and the stream's
   * snapshot) when a stream cannot be served. Live messages are held meanwhile.
   */
  async history(identifier: string, request: HistoryRequest): Promise<void> {
    const subs = this.channels.get(identifier)
    if (!subs) return
    const usable = this.usableRequest(identifier, request)
    if (usable === undefined) {
      this.finishCatchUp(identifier, subs)
      return
    }
    for (const sub of subs) sub.held ??= []
    await this.catchUp(identifier, subs, usable, undefined, 'history')
  }

  /** A request the wire can serve, or undefined; a base-protocol client hears `reject_history`. */
  private usableRequest(identifier: string, request: HistoryRequest | undefined): HistoryRequest | undefined {
    if (request === undefined) return undefined
    if (!this.wire.info.extended) {
      this.send(replies.rejectHistory(identifier))
      return undefined
    }
    return (request.since ?? 0) > 0 || request.streams ? request : undefined
  }

  /**
   * Brings a channel's held subscriptions up to date and releases them: the backlog `request`
   * asks for, or just each stream's top position (nothing before subscribing is replayed, but
   * from here on a skipped offset is noticed). `snapshotOf`: send the stream's snapshot after the
   * backlog (a new subscription). A new subscription is confirmed only once each stream's
   * position is known, so a session moved to another node (long polling) resumes from a real one.
   */
  private async catchUp(identifier: string, subs: Subscription[], request: HistoryRequest | undefined, snapshotOf: string | undefined, mode: CatchUpMode): Promise<void> {
    this.catchingUp++
    try {
      await this.catchUpNow(identifier, subs, request, snapshotOf, mode)
    } finally {
      this.settled()
    }
  }

  private settled(): void {
    if (--this.catchingUp > 0 || !this.settledWaiters) return
    const waiters = this.settledWaiters
    this.settledWaiters = undefined
    for (const w of waiters) w()
  }

  /** True while a subscription is still being set up or caught up: its position is not known yet. */
  get settling(): boolean {
    return this.catchingUp > 0
  }

  /** Calls `fn` once no catch-up is under way (at once when none is). */
  whenSettled(fn: () => void): void {
    if (this.catchingUp === 0) fn()
    else (this.settledWaiters ??= []).push(fn)
  }

  private async catchUpNow(identifier: string, subs: Subscription[], request: HistoryRequest | undefined, snapshotOf: string | undefined, mode: CatchUpMode): Promise<void> {
    const since = request?.since ?? 0
    let reads: Read[]
    try {
      for (const sub of subs) if (sub.ready !== undefined) await sub.ready
      reads = await Promise.all(subs.map((sub) => this.read(sub, request?.streams?.[sub.stream], since)))
    } catch (err) {
      // The broker failed (not a position it refused): no backlog, no baseline; live delivery goes on.
      if (this.done || this.channels.get(identifier) !== subs) return
      this.ctx.diagnostics.historyReject(this.sid, identifier, (err as Error)?.message ?? String(err), true)
      if (mode === 'subscribe') this.send(replies.confirm(identifier))
      if (request !== undefined) this.send(replies.rejectHistory(identifier))
      for (const sub of subs) await this.sendSnapshot(identifier, sub.stream)
      this.finishCatchUp(identifier, subs)
      return
    }
    if (this.done || this.channels.get(identifier) !== subs) return
    if (mode === 'subscribe') this.send(replies.confirm(identifier))
    const lasts: (StreamMessage | undefined)[] = []
    let rejected = false
    for (let i = 0; i < subs.length; i++) {
      const sub = subs[i]
      const { history: { messages, top }, rejected: why } = reads[i]
      const position = request?.streams?.[sub.stream]
      if (why !== undefined) {
        rejected = true
        this.ctx.diagnostics.historyReject(this.sid, identifier, why)
        this.baseline(sub, top)
        continue
      }
      // Only a position the broker accepted counts as delivered.
      if (position && sub.isNew(position.epoch, position.offset)) sub.advance(position.epoch, position.offset)
      if (!position && since <= 0) this.baseline(sub, top)
      for (const m of messages) {
        if (!sub.isNew(m.epoch, m.offset)) continue
        sub.advance(m.epoch, m.offset)
        this.sendData(new PreparedBroadcast(identifier, m))
        lasts[i] = m
        if (sub.endsWith?.(m)) this.streamEnded(sub)
      }
    }
    // A stream whose backlog is gone gets its snapshot: the state the backlog would have led to.
    if (rejected) this.send(replies.rejectHistory(identifier))
    for (let i = 0; i < subs.length; i++) {
      const sub = subs[i]
      if (reads[i].rejected !== undefined) await this.sendSnapshot(identifier, sub.stream)
      else if (snapshotOf !== undefined && !sub.ended) await this.sendSnapshot(identifier, sub.stream, lasts[i])
      if (this.done || this.channels.get(identifier) !== subs) return
    }
    if (request !== undefined && !rejected && mode !== 'resume') this.send(replies.confirmHistory(identifier))
    this.finishCatchUp(identifier, subs)
  }

  /** One stream's backlog after `position` (or since a time, or just its top); a refused position reads the top. */
  private async read(sub: Subscription, position: StreamPosition | undefined, since: number): Promise<Read> {
    const query: HistoryQuery = position ? { after: position } : since > 0 ? { sinceMs: since * 1000 } : { limit: 0 }
    try {
      return { history: await this.ctx.hub.history(sub.stream, query) }
    } catch (err) {
      if (!(err instanceof HistoryUnavailable)) throw err
      return { history: await this.ctx.hub.history(sub.stream, { limit: 0 }), rejected: err.message }
    }
  }

  /**
   * A new subscription's starting point: the stream's top, or just before the first held live
   * message if that is older (it was published after the broker subscription, so it is new).
   */
  private baseline(sub: Subscription, top: StreamPosition): void {
    const first = sub.held?.[0]?.message
    const offset = first !== undefined && first.epoch === top.epoch ? Math.min(top.offset, first.offset - 1) : top.offset
    sub.advance(top.epoch, offset)
  }

  /** What a stream hook says a subscriber sees: the current state, unpositioned. */
  private async sendSnapshot(identifier: string, stream: string, after?: StreamMessage): Promise<void> {
    let snapshot: string | undefined
    try {
      snapshot = await this.ctx.snapshot(stream, after)
    } catch (err) {
      // A hook that fails (a job store that is down) costs the subscriber its snapshot, not its subscription.
      this.ctx.diagnostics.requestFail(`snapshot of ${stream}`, err)
      return
    }
    if (snapshot !== undefined && !this.done) this.outbox.push(this.framing.transmit(identifier, snapshot))
  }

  private finishCatchUp(identifier: string, subs: Subscription[]): void {
    this.restorePending?.delete(identifier)
    this.release(subs)
  }

  /** Delivers what was held, in order, skipping what the backlog already covered. */
  private release(subs: Subscription[]): void {
    for (const sub of subs) {
      const held = sub.held
      sub.held = null
      if (!held) continue
      for (const p of held) {
        this.heldBytes -= heldSize(p)
        this.deliver(sub, p)
      }
    }
  }

  /**
   * Offsets jumped past the last delivered one (`got` is the message that showed it, or none
   * after a broker reconnect): hold live messages, replay the missing ones from history, release.
   */
  private recover(sub: Subscription, got: PreparedBroadcast | undefined): void {
    sub.held = []
    if (got !== undefined) {
      sub.held.push(got)
      this.heldBytes += heldSize(got)
    }
    const after = { epoch: sub.lastEpoch, offset: sub.lastOffset }
    this.ctx.diagnostics.historyGap(this.sid, sub.stream, after.offset, got?.message.offset ?? -1)
    this.ctx.hub.counters.gapsRecovered++
    this.ctx.hub.history(sub.stream, { after }).then(
      ({ messages }) => {
        if (this.done || sub.held === null) return
        for (const m of messages) {
          if (!sub.isNew(m.epoch, m.offset)) continue
          sub.advance(m.epoch, m.offset)
          this.sendData(new PreparedBroadcast(sub.identifier, m))
          if (sub.endsWith?.(m)) this.streamEnded(sub)
        }
        this.release([sub])
      },
      async (err: unknown) => {
        if (this.done || sub.held === null) return
        this.ctx.diagnostics.historyReject(this.sid, sub.identifier, (err as Error)?.message ?? String(err), !(err instanceof HistoryUnavailable))
        if (this.wire.info.extended) this.send(replies.rejectHistory(sub.identifier))
        await this.sendSnapshot(sub.identifier, sub.stream)
        // Go on from what arrives: the held messages start the subscription again.
        const first = sub.held?.[0]?.message
        if (first) sub.advance(first.epoch, first.offset - 1)
        this.release([sub])
      },
    ).catch(this.failed)
  }

  /** Called by the clients' sweep: restored channels whose history request never came go live. */
  expireRestoreHold(now: number): void {
    if (!this.restorePending || now < this.restoreDeadline) return
    for (const identifier of this.restorePending) {
      const subs = this.channels.get(identifier)
      if (subs) this.release(subs)
    }
    this.restorePending = undefined
  }

  /** Subscribes the hub to a subscription's stream, held until its catch-up releases it. */
  private track(sub: Subscription): Subscription {
    sub.held = []
    sub.ready = this.ctx.hub.subscribe(sub)
    // Observed here so a failure is never unhandled; whoever awaits `ready` handles it.
    sub.ready?.then(() => { sub.ready = undefined }, () => {})
    return sub
  }

  private untrack(sub: Subscription): void {
    if (sub.held) for (const p of sub.held) this.heldBytes -= heldSize(p)
    sub.held = null
    this.ctx.hub.unsubscribe(sub)
  }

  /** A subscription's stream ended; a connection whose every stream has ended is complete. */
  private streamEnded(sub: Subscription): void {
    sub.ended = true
    for (const subs of this.channels.values()) for (const s of subs) if (!s.ended) return
    // After the current fan-out or replay: the final message is queued ahead of the disconnect.
    queueMicrotask(() => this.disconnect(Disconnects.complete))
  }

  // ---- ending -----------------------------------------------------------------------------------

  /** Sends the AnyCable `disconnect` message, then closes the wire with the same reason. */
  disconnect(reason: Disconnect): void {
    if (this.done) return
    this.outbox.pushNow(this.framing.reply(reason.reply))
    this.outbox.close()
    this.wire.close(reason)
    this.cleanup(reason)
  }

  /** Over the outbox budget: the reader cannot keep up, so a final message would not reach it either. */
  tooSlow(): void {
    if (this.done) return
    this.ctx.diagnostics.inputReject('HERALD_ERR_TOO_SLOW', `outbox over ${this.ctx.outboxBytes} bytes`, { sid: this.sid })
    this.wire.close(Disconnects.slow)
    this.cleanup(Disconnects.slow)
  }

  private cleanup(reason: Disconnect): void {
    if (this.done) return
    this.done = true
    this.outbox.close()
    const info = this.wire.info
    const state = info.extended && info.restorable && reason.reconnect ? this.sessionState() : undefined
    for (const subs of this.channels.values()) for (const sub of subs) this.untrack(sub)
    this.channels.clear()
    this.ctx.ended(this, state)
    this.ctx.diagnostics.connectionClose(this.sid, info.transport, reason)
  }
}
