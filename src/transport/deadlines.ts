/** One scheduled call; `index` is its slot in the heap, -1 once fired or cancelled. */
export interface Deadline {
  readonly at: number
  index: number
  readonly fire: (arg: any) => void
  /** Passed to `fire`, so a hot caller can share one function instead of a closure per deadline. */
  readonly arg: unknown
}

/**
 * Every hold deadline of the HTTP transports (held polls, flush windows, keepalive expiry) in one
 * binary min-heap with one timer armed for the earliest, never a timer per request
 * (STYLE §8; libwebsockets keeps one sorted timeout list per service thread). Cancelling removes
 * the entry at once, so `size` is exactly what is pending.
 */
export class Deadlines {
  private readonly heap: Deadline[] = []
  private timer: NodeJS.Timeout | undefined
  private timerAt = Infinity

  constructor(private readonly now: () => number = Date.now) {}

  get size(): number {
    return this.heap.length
  }

  /** Calls `fire(arg)` once, `ms` from now, unless cancelled first. */
  add(ms: number, fire: () => void): Deadline
  add<T>(ms: number, fire: (arg: T) => void, arg: T): Deadline
  add(ms: number, fire: (arg: unknown) => void, arg?: unknown): Deadline {
    const entry: Deadline = { at: this.now() + Math.max(0, ms), index: this.heap.length, fire, arg }
    this.heap.push(entry)
    this.up(entry.index)
    this.arm()
    return entry
  }

  /** Removes a pending deadline; a fired or already cancelled one is ignored. */
  cancel(entry: Deadline | undefined): void {
    if (!entry || entry.index < 0) return
    const i = entry.index
    const last = this.heap.pop()!
    entry.index = -1
    if (last !== entry) {
      this.heap[i] = last
      last.index = i
      this.down(i)
      this.up(last.index)
    }
    if (this.heap.length === 0) this.disarm()
  }

  close(): void {
    for (const e of this.heap) e.index = -1
    this.heap.length = 0
    this.disarm()
  }

  private readonly run = (): void => {
    this.timer = undefined
    this.timerAt = Infinity
    const now = this.now()
    while (this.heap.length > 0 && this.heap[0].at <= now) {
      const entry = this.heap[0]
      this.cancel(entry)
      try {
        entry.fire(entry.arg)
      } catch (err) {
        // One failing callback must not stop the others; surface it without killing the loop.
        queueMicrotask(() => { throw err })
      }
    }
    this.arm()
  }

  private arm(): void {
    const head = this.heap[0]
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
