/** One scheduled call; `index` is its slot in the heap (0 in a lane), -1 once fired or cancelled. */
export interface Deadline {
  readonly at: number
  index: number
  readonly fire: (arg: any) => void
  /** Passed to `fire`, so a hot caller can share one function instead of a closure per deadline. */
  readonly arg: unknown
}

class Entry implements Deadline {
  prev: Entry | undefined = undefined
  next: Entry | undefined = undefined

  constructor(
    readonly at: number,
    public index: number,
    readonly fire: (arg: any) => void,
    readonly arg: unknown,
    readonly lane: Lane | undefined,
  ) {}
}

/**
 * Deadlines that all lie the same time ahead (a poll's hold, a session's keepalive): they come
 * due in the order they were added, so a list kept in that order does the heap's job with O(1)
 * adds and cancels (the heap's sifting was 5.5% of the server's time in bench churn long-poll).
 */
export class Lane {
  /** @internal */ head: Entry | undefined = undefined
  /** @internal */ tail: Entry | undefined = undefined

  /** @internal use `Deadlines.lane` */
  constructor(private readonly owner: Deadlines, readonly ms: number) {}

  /** Calls `fire(arg)` once, `ms` from now, unless cancelled first (`Deadlines.cancel`). */
  add<T>(fire: (arg: T) => void, arg: T): Deadline {
    return this.owner.addToLane(this, fire, arg)
  }
}

/**
 * Every hold deadline of the HTTP transports (held polls, flush windows, keepalive expiry) in one
 * binary min-heap, plus lanes for fixed delays, with one timer armed for the earliest, never a
 * timer per request (libwebsockets keeps one sorted timeout list per service thread).
 * Cancelling removes the entry at once, so `size` is exactly what is pending.
 */
export class Deadlines {
  private readonly heap: Entry[] = []
  private readonly lanes: Lane[] = []
  private inLanes = 0
  private timer: NodeJS.Timeout | undefined
  private timerAt = Infinity

  constructor(
    private readonly now: () => number = Date.now,
    /** A deadline's callback threw. */
    private readonly onError: (err: unknown) => void = (err) => { queueMicrotask(() => { throw err }) },
  ) {}

  get size(): number {
    return this.heap.length + this.inLanes
  }

  /** The lane for deadlines `ms` from when each is added (one per distinct `ms`). */
  lane(ms: number): Lane {
    const delay = Math.max(0, ms)
    for (const l of this.lanes) if (l.ms === delay) return l
    const l = new Lane(this, delay)
    this.lanes.push(l)
    return l
  }

  /** Calls `fire(arg)` once, `ms` from now, unless cancelled first. */
  add(ms: number, fire: () => void): Deadline
  add<T>(ms: number, fire: (arg: T) => void, arg: T): Deadline
  add(ms: number, fire: (arg: unknown) => void, arg?: unknown): Deadline {
    const entry = new Entry(this.now() + Math.max(0, ms), this.heap.length, fire, arg, undefined)
    this.heap.push(entry)
    this.up(entry.index)
    if (entry.at < this.timerAt) this.arm()
    return entry
  }

  /** @internal see `Lane.add` */
  addToLane(lane: Lane, fire: (arg: any) => void, arg: unknown): Deadline {
    const tail = lane.tail
    // Never before the entry ahead of it, so the list stays in deadline order even if the clock steps back.
    const at = Math.max(this.now() + lane.ms, tail ? tail.at : -Infinity)
    const entry = new Entry(at, 0, fire, arg, lane)
    if (tail) {
      tail.next = entry
      entry.prev = tail
    } else lane.head = entry
    lane.tail = entry
    this.inLanes++
    if (at < this.timerAt) this.arm()
    return entry
  }

  /** Removes a pending deadline; a fired or already cancelled one is ignored. */
  cancel(deadline: Deadline | undefined): void {
    if (!deadline || deadline.index < 0) return
    const entry = deadline as Entry
    const lane = entry.lane
    if (lane !== undefined) {
      const { prev, next } = entry
      if (prev) prev.next = next
      else lane.head = next
      if (next) next.prev = prev
      else lane.tail = prev
      entry.prev = entry.next = undefined
      entry.index = -1
      this.inLanes--
    } else {
      const i = entry.index
      const last = this.heap.pop()!
      entry.index = -1
      if (last !== entry) {
        this.heap[i] = last
        last.index = i
        this.down(i)
        this.up(last.index)
      }
    }
    if (this.size === 0) this.disarm()
  }

  close(): void {
    for (const e of this.heap) e.index = -1
    this.heap.length = 0
    for (const lane of this.lanes) {
      for (let e = lane.head; e; e = e.next) e.index = -1
      lane.head = lane.tail = undefined
    }
    this.inLanes = 0
    this.disarm()
  }

  /** The pending entry due first: the heap's top or a lane's head. */
  private earliest(): Entry | undefined {
    let first: Entry | undefined = this.heap[0]
    for (const lane of this.lanes) {
      const head = lane.head
      if (head !== undefined && (first === undefined || head.at < first.at)) first = head
    }
    return first
  }

  private readonly run = (): void => {
    this.timer = undefined
    this.timerAt = Infinity
    const now = this.now()
    for (let entry = this.earliest(); entry !== undefined && entry.at <= now; entry = this.earliest()) {
      this.cancel(entry)
      try {
        entry.fire(entry.arg)
      } catch (err) {
        // One failing callback must not stop the others, nor end the process: it is reported.
        this.onError(err)
      }
    }
    this.arm()
  }

  private arm(): void {
    const head = this.earliest()
    if (!head || head.at >= this.timerAt) return
    this.disarm()
    this.timerAt = head.at
    this.timer = setTimeout(this.run, Math.max(0, head.at - this.now()))
    // Held requests keep the process alive by their sockets; the timer alone should not.
    this.timer.unref()
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    this.timerAt = Infinity
  }

  private up(i: number): void {
    const h = this.heap
    while (i > 0) {
      const p = (i - 1) >> 1
      if (h[p].at <= h[i].at) break
      this.swap(i, p)
      i = p
    }
  }

  private down(i: number): void {
    const h = this.heap
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < h.length && h[l].at < h[m].at) m = l
      if (r < h.length && h[r].at < h[m].at) m = r
      if (m === i) return
      this.swap(i, m)
      i = m
    }
  }

  private swap(a: number, b: number): void {
    const h = this.heap
    const t = h[a]
    h[a] = h[b]
    h[b] = t
    h[a].index = a
    h[b].index = b
  }
}
