import { randomBytes } from 'node:crypto'
import { Disconnects, disconnectMessage, type Disconnect } from '../disconnect.js'
import { HistoryUnavailable } from '../broker/broker.js'
import { decodeCommand, ProtocolError } from '../protocol/codec.js'
import { replies, type HistoryRequest, type StreamMessage } from '../protocol/messages.js'
import type { Framing, Wire, WireRequest, WireSink, TransportName } from './wire.js'
import type { Hub } from '../hub/hub.js'
import { PreparedBroadcast } from '../framing/prepared-broadcast.js'
import type { SessionState } from './session-cache.js'
import { Outbox, type OutboxOwner } from './outbox.js'
import { Subscription } from './subscription.js'

/** How long restored subscriptions hold live messages waiting for the client's history request. */
const RESTORE_HOLD_MS = 5000

/** What a held broadcast is charged: its payload plus the reply's envelope, roughly. */
function heldSize(p: PreparedBroadcast): number {
  return p.message.data.length + p.identifier.length + 64
}

export function newSessionId(): string {
  return randomBytes(16).toString('base64url')
}

/**
 * The per-client state machine: welcome (or restore), commands, subscriptions with their
 * positions, the outbox, and disconnect. It knows a Wire and the Hub, never a socket.
 */
export class Connection implements WireSink, OutboxOwner {
  readonly sid = newSessionId()
  readonly outbox: Outbox
  readonly framing: Framing
  readonly openedAt: number
  lastSeen: number
  /** Where the session came from; the request itself is not retained (memory per idle connection). */
  readonly remoteAddress: string | undefined
  /** Channel identifier → one subscription per stream of that channel. */
  private readonly channels = new Map<string, Subscription[]>()
  /** Restored channels still waiting for the client's history request; allocated only on restore. */
  private restorePending: Set<string> | undefined
  private restoreDeadline = 0
  /** Bytes of live messages held while history is replayed (see `deliver`). */
  private heldBytes = 0
  private done = false

  constructor(
    readonly hub: Hub,
    readonly wire: Wire,
    request: WireRequest,
  ) {
    this.framing = wire.info.framing
    this.remoteAddress = request.remoteAddress
    this.outbox = new Outbox(wire, hub.options.outboxBytes, this)
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

  /** Sends `welcome`, restoring the session named by `restoreSid` when the cache still has it. */
  open(restoreSid?: string): void {
    const state = restoreSid && this.wire.info.extended ? this.hub.sessions.take(restoreSid) : undefined
    if (!state) {
      this.send(replies.welcome(this.sid))
      return
    }
    const ids: string[] = []
    this.restorePending = new Set()
    for (const { identifier, streams } of state.channels) {
      const subs = streams.map((stream) => new Subscription(this, identifier, stream))
      for (const sub of subs) {
        // Held until the client says where it is (its `history` command), so nothing is sent twice.
        sub.held = []
        this.hub.subscribe(sub)
      }
      this.channels.set(identifier, subs)
      this.restorePending.add(identifier)
      ids.push(identifier)
    }
    this.restoreDeadline = Date.now() + RESTORE_HOLD_MS
    this.hub.metrics.sessionsRestored.inc()
    this.hub.log.info({ sid: this.sid, restoredFrom: restoreSid, channels: ids.length }, 'session restored')
    this.send(replies.welcome(this.sid, ids))
  }

  /** Queues one protocol reply (JSON text of the whole message). */
  send(json: string): void {
    this.outbox.push(this.framing.reply(json))
  }

  /** Hot path: one broadcast for one of this connection's subscriptions. */
  deliver(sub: Subscription, prepared: PreparedBroadcast): void {
    if (sub.held !== null) {
      // Held messages wait in memory like queued frames, so they count against the same budget.
      sub.held.push(prepared)
      this.heldBytes += heldSize(prepared)
      if (this.heldBytes + this.outbox.totalBytes > this.hub.options.outboxBytes) this.tooSlow()
      return
    }
    const m = prepared.message
    if (m.epoch === sub.lastEpoch && m.offset <= sub.lastOffset) return
    sub.lastEpoch = m.epoch
    sub.lastOffset = m.offset
    this.outbox.push(prepared.bytes(this.framing))
    if (this.wire.finalMessage !== undefined && this.hub.isFinal(m)) this.wire.finalMessage(sub.identifier, m)
  }

  // ---- WireSink -------------------------------------------------------------------------

  receive(text: string): void {
    if (this.done) return
    this.lastSeen = Date.now()
    let command
    try {
      command = decodeCommand(text)
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err
      this.hub.rejectInput('HERALD_ERR_BAD_COMMAND', err.message, { sid: this.sid })
      this.disconnect(Disconnects.invalidCommand)
      return
    }
    switch (command.command) {
      case 'subscribe':
        this.subscribe(command.identifier, command.history)
        return
      case 'unsubscribe':
        return this.unsubscribe(command.identifier)
      case 'history':
        void this.history(command.identifier, command.history)
        return
      case 'ping':
        return this.send(replies.pong())
      case 'pong':
        return
      case 'message':
      case 'whisper':
        // Standalone streams have no actions (AnyCable's $pubsub allows only $-prefixed ones).
        this.hub.log.info({ sid: this.sid, command: command.command, identifier: command.identifier }, 'command ignored: no actions on $pubsub streams')
        return
    }
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

  // ---- commands ------------------------------------------------------------------------------

  /** Returns false when the subscription was rejected (HTTP transports answer 400 before their 200). */
  subscribe(identifier: string, history?: HistoryRequest): boolean {
    if (this.channels.has(identifier)) {
      this.hub.log.debug({ sid: this.sid, identifier }, 'duplicate subscribe ignored')
      return true
    }
    const verdict = this.hub.authorizer.authorize(identifier)
    if (!verdict.ok) {
      this.hub.log.info({ sid: this.sid, identifier, why: verdict.why }, 'subscription rejected')
      this.hub.metrics.errors.inc({ code: 'HERALD_ERR_SUBSCRIPTION_REJECTED' })
      this.send(replies.reject(identifier))
      return false
    }
    const sub = new Subscription(this, identifier, verdict.stream)
    this.channels.set(identifier, [sub])
    this.send(replies.confirm(identifier))
    const wantsHistory = history && this.wire.info.extended && ((history.since ?? 0) > 0 || history.streams)
    if (wantsHistory) {
      // The snapshot (current state) follows the backlog, so a client's view never moves backwards.
      sub.held = []
      this.hub.subscribe(sub)
      void this.history(identifier, history, true, verdict.stream)
    } else {
      this.sendSnapshot(identifier, verdict.stream)
      this.hub.subscribe(sub)
    }
    return true
  }

  /** What a stream hook (jobs) says a new subscriber sees first: the current state, unpositioned. */
  private sendSnapshot(identifier: string, stream: string): void {
    const snapshot = this.hub.snapshot(stream)
    if (snapshot !== undefined) this.send(replies.transmit(identifier, snapshot))
  }

  unsubscribe(identifier: string): void {
    const subs = this.channels.get(identifier)
    if (!subs) return
    this.channels.delete(identifier)
    this.restorePending?.delete(identifier)
    for (const sub of subs) this.hub.unsubscribe(sub)
  }

  /**
   * Replays what each stream of the channel kept after the client's position (or since a time),
   * then `confirm_history`; `reject_history` when any stream cannot be served. Live messages are
   * held meanwhile and released afterwards without duplicates.
   */
  async history(identifier: string, request: HistoryRequest, alreadyHeld = false, snapshotOf?: string): Promise<void> {
    const subs = this.channels.get(identifier)
    if (!subs) return
    const since = request.since ?? 0
    if (!this.wire.info.extended || (since <= 0 && !request.streams)) {
      if (!this.wire.info.extended) this.send(replies.rejectHistory(identifier))
      if (snapshotOf !== undefined) this.sendSnapshot(identifier, snapshotOf)
      if (alreadyHeld) this.release(subs)
      return
    }
    if (!alreadyHeld) for (const sub of subs) sub.held ??= []
    let backlogs: StreamMessage[][]
    try {
      backlogs = await Promise.all(
        subs.map((sub) => {
          const position = request.streams?.[sub.stream]
          if (position) return this.hub.broker.history(sub.stream, { position })
          return since > 0 ? this.hub.broker.history(sub.stream, { sinceMs: since * 1000 }) : Promise.resolve([])
        }),
      )
    } catch (err) {
      if (!(err instanceof HistoryUnavailable)) this.hub.log.err({ err, sid: this.sid }, 'history failed')
      else this.hub.log.info({ sid: this.sid, identifier, why: err.message }, 'history rejected')
      this.hub.metrics.historyRejected.inc()
      if (this.done) return
      this.send(replies.rejectHistory(identifier))
      if (snapshotOf !== undefined) this.sendSnapshot(identifier, snapshotOf)
      this.finishHistory(identifier, subs)
      return
    }
    if (this.done || this.channels.get(identifier) !== subs) return
    let ended = false
    for (let i = 0; i < subs.length; i++) {
      const sub = subs[i]
      // Only a position the broker accepted counts as delivered: one it rejected (say, beyond the
      // latest offset) must not make the live messages up to it look like duplicates.
      const position = request.streams?.[sub.stream]
      if (position && sub.isNew(position.epoch, position.offset)) sub.advance(position.epoch, position.offset)
      for (const m of backlogs[i]) {
        if (!sub.isNew(m.epoch, m.offset)) continue
        sub.advance(m.epoch, m.offset)
        this.outbox.push(new PreparedBroadcast(identifier, m).bytes(this.framing))
        if (this.hub.isFinal(m)) {
          ended = true
          this.wire.finalMessage?.(identifier, m)
        }
      }
    }
    // After a final event the backlog already says everything; the snapshot would only repeat it.
    if (snapshotOf !== undefined && !ended) this.sendSnapshot(identifier, snapshotOf)
    this.send(replies.confirmHistory(identifier))
    this.finishHistory(identifier, subs)
  }

  private finishHistory(identifier: string, subs: Subscription[]): void {
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

  /** Called by the hub's sweep: restored channels whose history request never came go live. */
  expireRestoreHold(now: number): void {
    if (!this.restorePending || now < this.restoreDeadline) return
    for (const identifier of this.restorePending) {
      const subs = this.channels.get(identifier)
      if (subs) this.release(subs)
    }
    this.restorePending = undefined
  }

  // ---- ending ----------------------------------------------------------------------------------

  /** Sends the AnyCable `disconnect` message, then closes the wire with the same reason. */
  disconnect(reason: Disconnect): void {
    if (this.done) return
    this.outbox.pushNow(this.framing.reply(disconnectMessage(reason)))
    this.outbox.close()
    this.wire.close(reason)
    this.cleanup(reason)
  }

  /** Over the outbox budget: the reader cannot keep up, so a final message would not reach it either. */
  tooSlow(): void {
    if (this.done) return
    this.hub.rejectInput('HERALD_ERR_TOO_SLOW', `outbox over ${this.hub.options.outboxBytes} bytes`, { sid: this.sid })
    this.wire.close(Disconnects.slow)
    this.cleanup(Disconnects.slow)
  }

  private cleanup(reason: Disconnect): void {
    if (this.done) return
    this.done = true
    this.outbox.close()
    const state: SessionState = {
      channels: [...this.channels].map(([identifier, subs]) => ({ identifier, streams: subs.map((s) => s.stream) })),
    }
    for (const subs of this.channels.values()) for (const sub of subs) this.hub.unsubscribe(sub)
    this.channels.clear()
    if (this.wire.info.extended && this.wire.info.restorable !== false && reason.reconnect) this.hub.sessions.save(this.sid, state)
    this.hub.remove(this, reason)
  }
}
