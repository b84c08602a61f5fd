import type { Connection } from '../core/connection.js'
import type { Wire, WireInfo } from '../core/wire.js'
import { Disconnects, type Disconnect } from '../disconnect.js'
import type { HttpResponse } from '../http/respond.js'
import type { Deadline, Deadlines, Lane } from './deadlines.js'

export type Headers = Readonly<Record<string, string>>

/** What a long-poll wire needs of the transport that owns it. */
export interface LongPollOwner {
  readonly deadlines: Deadlines
  readonly holdLane: Lane
  readonly keepaliveLane: Lane
  readonly flushNow: Lane
  readonly flushLater: Lane
  respond(res: HttpResponse, status: number, body: Buffer, pollId: string | undefined, cors?: Headers): void
  /** The wire ended; `reason` is what its next poll should hear. */
  forget(wire: LongPollWire, reason: Disconnect): void
  /** A poll was answered: the session's positions moved on (kept in the shared store across nodes). */
  answered(wire: LongPollWire): void
  expired(wire: LongPollWire): void
}

/** A poll request being held open, with what it has collected so far. */
interface HeldPoll {
  readonly wire: LongPollWire
  res: HttpResponse
  frames: Buffer[]
  /** When to answer once something arrived: the flush interval, or at once (0) for a poll that sent commands. */
  flushLane: Lane
  hold: Deadline | undefined
  flush: Deadline | undefined
  /** The poll interval ran out: answer now, settled or not. */
  due: boolean
  /** CORS headers for the answer, when they were not set on `res` already (empty polls). */
  cors: Headers | undefined
}

const EMPTY = Buffer.alloc(0)
const kHeld = Symbol('herald.heldPoll')
type HeldResponse = HttpResponse & { [kHeld]?: HeldPoll }

// Shared callbacks that reach their poll through an argument or a tag, not a closure (and
// esbuild's __name call) per poll: bench churn long-poll, with the other per-request savings.
function onHeldClose(this: HeldResponse): void {
  const held = this[kHeld]
  if (held) held.wire.abandoned(held)
}

/** The flush deadline of a poll: answer it if it is still the session's held poll. */
function answerHeld(held: HeldPoll): void {
  if (held.wire.held === held) held.wire.answer(200)
}

/** The hold deadline (the poll interval): answer whatever there is. */
function holdEnded(held: HeldPoll): void {
  held.due = true
  answerHeld(held)
}

function keepaliveExpired(wire: LongPollWire): void {
  wire.expire()
}

/**
 * One long-poll session. Between polls, `write` returns false: the Outbox keeps queuing and counts
 * it against the same `outboxBytes` budget as any transport, and frames already handed over wait
 * here (counted in `bufferedBytes`). A poll takes them, then `drained()` lets the Outbox flush into it.
 */
export class LongPollWire implements Wire {
  conn!: Connection
  held: HeldPoll | undefined
  private pending: Buffer[] = []
  /** Bytes waiting here, pending or collected by the held poll: read on every Outbox.push, so kept, not summed. */
  private waitingBytes = 0
  private keepalive: Deadline | undefined
  closed = false

  constructor(
    readonly info: WireInfo,
    readonly id: string,
    private readonly owner: LongPollOwner,
  ) {}

  get bufferedBytes(): number {
    return this.waitingBytes
  }

  write(frames: Buffer[]): boolean {
    if (this.closed) return true
    const held = this.held
    if (!held) {
      for (const f of frames) if (f.length > 0) { this.pending.push(f); this.waitingBytes += f.length }
      return false
    }
    let got = false
    for (const f of frames) if (f.length > 0) { held.frames.push(f); this.waitingBytes += f.length; got = true }
    if (got) this.scheduleFlush(held, held.flushLane)
    return true
  }

  close(reason: Disconnect): void {
    if (this.closed) return
    // Too slow: the Outbox sent nothing final and what waits here is dropped; say why, though.
    if (reason === Disconnects.slow) {
      this.pending = []
      this.waitingBytes = 0
      if (this.held) this.held.frames = []
      ;(this.held ? this.held.frames : this.pending).push(Buffer.from(reason.reply.json + '\n'))
    }
    this.closed = true
    this.owner.forget(this, reason)
    if (this.held) this.answer(reason.httpStatus)
    this.pending = []
    this.waitingBytes = 0
    this.owner.deadlines.cancel(this.keepalive)
    this.keepalive = undefined
  }

  /**
   * The session went on at another node: a poll held here is answered empty (the client polls
   * there now), and the connection ends saying nothing, keeping nothing to restore.
   */
  drop(): void {
    if (this.closed) return
    this.closed = true
    if (this.held) {
      this.held.frames = []
      this.answer(200)
    }
    this.pending = []
    this.waitingBytes = 0
    this.owner.deadlines.cancel(this.keepalive)
    this.keepalive = undefined
    this.conn.closed(Disconnects.remote)
  }

  /** Holds `res` as the session's poll; a poll already held is answered empty and hands over what it collected. */
  attach(res: HttpResponse, immediate: boolean, cors: Headers | undefined): void {
    const o = this.owner
    const previous = this.held
    if (previous) {
      // At most one poll per session: the older one answers empty now, so nothing goes out twice
      // or into a response the client has already given up on (the LP client aborts it to send).
      const collected = previous.frames
      previous.frames = []
      this.answer(200)
      this.pending = collected.concat(this.pending)
    }
    // After answering the older poll, which starts the keepalive clock: this one stops it.
    o.deadlines.cancel(this.keepalive)
    this.keepalive = undefined
    // The pending frames become the held poll's: still waiting here, so waitingBytes is unchanged.
    const frames = this.pending
    this.pending = []
    const held: HeldPoll = {
      wire: this, res, frames, flushLane: immediate ? o.flushNow : o.flushLater, hold: undefined, flush: undefined, due: false, cors,
    }
    held.hold = o.holdLane.add(holdEnded, held)
    ;(res as HeldResponse)[kHeld] = held
    res.on('close', onHeldClose)
    this.held = held
    if (frames.length > 0) this.scheduleFlush(held, o.flushNow)
    this.conn.heard()
    this.conn.drained()
  }

  /** The held poll's client went away before its answer: what it collected waits for the next poll. */
  abandoned(held: HeldPoll): void {
    if (this.held !== held) return
    this.held = undefined
    this.release(held)
    this.pending = held.frames.concat(this.pending)
    if (!this.closed) this.armKeepalive()
  }

  /** Answers the held poll with everything it collected. */
  answer(status: number): void {
    const held = this.held
    if (!held) return
    // The client is gone but its 'close' has not been handled yet: keep what it collected.
    if (held.res.destroyed && !this.closed) return this.abandoned(held)
    // A subscription still being set up (this poll's own subscribe, or channels resumed from
    // another node): its confirmation and backlog go with this answer, and the positions kept for
    // the session are real ones. The poll interval still bounds the wait.
    if (!this.closed && !held.due && this.conn.settling) {
      if (held.flush) {
        this.owner.deadlines.cancel(held.flush)
        held.flush = undefined
      }
      this.conn.whenSettled(() => this.settledFor(held))
      return
    }
    // What the connection queued this turn goes too, so the positions kept for this answer
    // are exactly those of what it carries.
    if (!this.closed) this.conn.outbox.flush()
    this.held = undefined
    this.release(held)
    const frames = held.frames
    // One frame (the common churn answer) is sent as it is: Buffer.concat would copy it.
    const body = frames.length === 0 ? EMPTY : frames.length === 1 ? frames[0] : Buffer.concat(frames)
    held.frames = []
    this.waitingBytes -= body.length
    this.owner.respond(held.res, status, body, this.id, held.cors)
    if (!this.closed) {
      this.armKeepalive()
      this.owner.answered(this)
    }
  }

  /** The catch-ups the held poll waited for are done: what they queued goes out with it now. */
  private settledFor(held: HeldPoll): void {
    if (this.held !== held || this.closed) return
    this.conn.outbox.flush()
    if (held.frames.length > 0) this.scheduleFlush(held, this.owner.flushNow)
  }

  armKeepalive(): void {
    if (this.held || this.keepalive) return
    this.keepalive = this.owner.keepaliveLane.add(keepaliveExpired, this)
  }

  /** Not polled within the keepalive timeout. */
  expire(): void {
    this.keepalive = undefined
    this.owner.expired(this)
    this.conn.disconnect(Disconnects.sessionExpired)
  }

  /** A request of this session that will not be held (refused) still counts as the client being alive. */
  touch(): void {
    if (this.held || this.closed) return
    this.owner.deadlines.cancel(this.keepalive)
    this.keepalive = undefined
    this.armKeepalive()
  }

  private scheduleFlush(held: HeldPoll, lane: Lane): void {
    if (held.flush) return
    held.flush = lane.add(answerHeld, held)
  }

  private release(held: HeldPoll): void {
    const deadlines = this.owner.deadlines
    deadlines.cancel(held.hold)
    deadlines.cancel(held.flush)
    held.hold = held.flush = undefined
    // The 'close' listener stays: untagged, it does nothing, and a removeListener per poll costs more.
    ;(held.res as HeldResponse)[kHeld] = undefined
  }
}
