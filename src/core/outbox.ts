import type { Wire } from './wire.js'

/**
 * Outboxes with something to send this event-loop turn. One setImmediate flushes them all, so
 * every socket gets one write per turn however many broadcasts it received
 * (docs/node-notes.md §2: batching writes per socket per turn is worth ≈8× in fan-out).
 */
const dirty: Outbox[] = []
let flushScheduled = false
/**
 * The event-loop turn, as far as outboxes care: advanced by each flushAll, and once more a turn
 * after a flushAll that wrote batches. An outbox that is quiet (it has not written in this turn
 * and was not flushed as a batch by the last flushAll) writes a frame at once: at an everyday
 * rate of a few messages a second there is nothing to batch, and waiting for setImmediate only
 * adds latency (bench everyday). Its next frames in the same turn batch until flushAll, and an
 * outbox flushed as a batch goes on batching until a turn passes without its frames, so under
 * load every socket still gets one write per turn (bench fanout, flat out).
 */
let turn = 0

function scheduleFlush(): void {
  if (!flushScheduled) {
    flushScheduled = true
    setImmediate(flushAll)
  }
}

function flushAll(): void {
  flushScheduled = false
  turn++
  const batched = dirty.length > 0
  // Outboxes marked dirty during this loop are flushed in this same pass.
  for (let i = 0; i < dirty.length; i++) dirty[i].flushBatch()
  dirty.length = 0
  // Runs before any flushAll scheduled in the next turn: an outbox that gets no frame during that
  // turn is quiet again after it.
  if (batched) setImmediate(advanceTurn)
}

function advanceTurn(): void {
  turn++
}

/**
 * Quiet outboxes that got a frame in the code now running. They write in a microtask rather than
 * inside push, still before the event loop moves on (no added latency), so the frames one
 * callback hands a socket go out in one write: a POST's batch of messages, or the several
 * messages one chunk from the Redis subscriber connection carries (bench cluster: writes per
 * delivery 0.46 on Redis against 0.29 on the memory broker before this).
 */
const quiet: Outbox[] = []
let quietScheduled = false

function flushQuiet(): void {
  quietScheduled = false
  for (let i = 0; i < quiet.length; i++) quiet[i].flush()
  quiet.length = 0
}

/**
 * Hands a single frame to Wire.write without allocating: the common fan-out case is one
 * broadcast per socket per turn (bench fanout), and sessions only read the array during the call.
 */
const ONE: Buffer[] = [Buffer.alloc(0)]

export interface OutboxOwner {
  tooSlow(): void
}

/**
 * One client's queue of outgoing frames with a byte budget. A quiet outbox writes what the running
 * code gave it in a microtask; frames that follow in the same turn, and every frame while frames
 * keep coming turn after turn, go out together on the next setImmediate (see `turn`).
 * Honours backpressure: after a
 * `write` that returns false nothing more is written until the session drains, and frames that
 * pile up meanwhile go out as one batch. Over budget, the owner is told once (→ too_slow).
 */
export class Outbox {
  /** The turn's frames: `single` while there is one, `frames` from the second on (no array per idle connection). */
  private single: Buffer | null = null
  private frames: Buffer[] | null = null
  private queuedBytes = 0
  private scheduled = false
  /** The turn this outbox last wrote at once in, and the one flushAll last wrote a batch of it in (see `turn`); -1: never. */
  private wroteInTurn = -1
  private batchedInTurn = -1
  private blocked = false
  private closed = false

  constructor(
    private readonly wire: Wire,
    private readonly budget: number,
    /** Told once when the budget is exceeded; an owner object, not a closure per connection. */
    private readonly owner: OutboxOwner,
  ) {}

  /** Queued here and not yet handed to the session. */
  get pendingBytes(): number {
    return this.queuedBytes
  }

  /** Everything not yet in the kernel: queued here plus what the session buffers. */
  get totalBytes(): number {
    return this.queuedBytes + this.wire.bufferedBytes
  }

  push(frame: Buffer): void {
    if (this.closed) return
    this.queue(frame)
    if (this.queuedBytes + this.wire.bufferedBytes > this.budget) {
      // A burst within one turn is not slowness yet: hand it to the session now and judge the
      // reader by what the session could not pass on (a fast reader's kernel takes it all).
      if (!this.blocked) this.flush()
      if (this.queuedBytes + this.wire.bufferedBytes <= this.budget) return
      this.closed = true
      this.drop()
      this.owner.tooSlow()
      return
    }
    if (this.scheduled || this.blocked || this.wroteInTurn === turn || this.batchedInTurn === turn) {
      this.schedule()
      return
    }
    // Quiet: write once the running code is done (with any lazy frame waiting), and batch what
    // follows in this turn.
    this.wroteInTurn = turn
    this.scheduled = true
    quiet.push(this)
    if (!quietScheduled) {
      quietScheduled = true
      queueMicrotask(flushQuiet)
    }
    scheduleFlush()
  }

  /**
   * Queues a frame that may wait (a keepalive): it goes out with the next write this outbox makes
   * anyway, or when `release()` is called, so a busy connection's ping costs no write of its own
   * (bench fanout ws: a ping round is one syscall per connection).
   */
  pushLazy(frame: Buffer): void {
    if (this.closed) return
    this.queue(frame)
  }

  /** Sends what `pushLazy` left queued, if no write took it meanwhile. */
  release(): void {
    if (this.single !== null || this.frames !== null) this.schedule()
  }

  /** Writes right away, bypassing batching (for the last message before a close). */
  pushNow(frame: Buffer): void {
    if (this.closed) return
    this.queue(frame)
    this.flush()
  }

  /** flushAll's flush: this outbox stays batching until a turn passes without its frames. */
  flushBatch(): void {
    this.batchedInTurn = turn
    this.flush()
  }

  flush(): void {
    this.scheduled = false
    if (this.blocked || this.closed) return
    let frames = this.frames
    if (frames === null) {
      if (this.single === null) return
      ONE[0] = this.single
      frames = ONE
    }
    this.single = null
    this.frames = null
    this.queuedBytes = 0
    if (!this.wire.write(frames)) this.blocked = true
  }

  drained(): void {
    this.blocked = false
    if (this.single !== null || this.frames !== null) this.schedule()
  }

  /** Stops all further writes; queued frames are dropped. */
  close(): void {
    this.closed = true
    this.drop()
  }

  private queue(frame: Buffer): void {
    if (this.frames !== null) this.frames.push(frame)
    else if (this.single === null) this.single = frame
    else {
      this.frames = [this.single, frame]
      this.single = null
    }
    this.queuedBytes += frame.length
  }

  private drop(): void {
    this.single = null
    this.frames = null
    this.queuedBytes = 0
  }

  private schedule(): void {
    if (this.scheduled || this.blocked) return
    this.scheduled = true
    dirty.push(this)
    scheduleFlush()
  }
}
