import net from 'node:net'
import { nowMicros } from '../driver/conn.js'
import type { PublishTarget } from '../servers/server.js'

/** Which messages a run publishes: 100 B of padding, or a JSON job-progress event (bench compression). */
export type PayloadKind = 'pad' | 'progress'

/**
 * A job's progress as a worker would report it (~330 B of JSON): what permessage-deflate is
 * for. `seq` and `t` lead, as in every payload the driver scans.
 */
export function progressPayload(seq: number): string {
  const done = seq % 1000
  return `{"seq":${seq},"t":${nowMicros()},"job":"job-7f3a9c21","type":"progress","state":"running","stage":"transcoding",` +
    `"progress":{"done":${done},"total":1000,"percent":${(done / 10).toFixed(1)}},"message":"Processed ${done} of 1000 items",` +
    `"eta_ms":${(1000 - done) * 120},"worker":"worker-3","attempt":1,"updated_at":"2026-12-02T16:00:00.000Z","errors":[],"warnings":[]}`
}

/** A 100-byte message carrying its sequence number and publish time (µs, CLOCK_MONOTONIC). */
export function payload(seq: number): string {
  const t = nowMicros()
  const head = `{"seq":${seq},"t":${t},"pad":"`
  return `${head}${'x'.repeat(Math.max(0, 100 - head.length - 2))}"}`
}

interface Pending {
  stream: string
}

/**
 * One keep-alive HTTP/1.1 connection publishing its own streams in order, one request at a time.
 * Servers close idle keep-alive connections (Node after 5 s), so a closed one is reopened and
 * what was in flight goes again.
 */
class PubConn {
  readonly queue: Pending[] = []
  private inFlight: string[] = []
  private buf: Buffer | null = null
  ready!: Promise<void>
  private socket!: net.Socket
  private open = false

  constructor(private readonly pub: Publisher, private readonly target: PublishTarget) {
    this.connect()
  }

  connect(): void {
    const socket = (this.socket = net.connect({ host: '127.0.0.1', port: this.target.port }))
    socket.setNoDelay(true)
    this.buf = null
    this.ready = new Promise((resolve, reject) => {
      socket.once('connect', () => {
        this.open = true
        resolve()
        this.pump()
      })
      socket.once('error', reject)
    })
    this.ready.catch(() => {})
    socket.on('data', (c: Buffer) => this.onData(c))
    socket.on('error', (e) => this.pub.errors.push(e.message))
    socket.on('close', () => {
      if (this.socket !== socket) return
      this.open = false
      if (this.pub.closed) return
      // Re-queue what had no answer (fresh sequence numbers; an unanswered one never counts as published).
      this.queue.unshift(...this.inFlight.map((stream) => ({ stream })))
      this.inFlight = []
      this.connect()
    })
  }

  /** A fresh connection before a phase, so no idle timeout can hit one mid-phase. */
  async reopen(): Promise<void> {
    const old = this.socket
    this.open = false
    this.connect()
    old.destroy()
    await this.ready
  }

  pump(): void {
    if (!this.open || this.inFlight.length > 0 || this.queue.length === 0) return
    const take = this.queue.splice(0, this.target.maxBatch)
    const make = this.pub.payloadKind === 'progress' ? progressPayload : payload
    const list = take.map((p) => ({ stream: p.stream, payload: make(this.pub.nextSeq(p.stream)) }))
    this.inFlight = list.map((p) => p.stream)
    this.socket.write(this.target.request(list))
  }

  private onData(chunk: Buffer): void {
    let buf = this.buf ? Buffer.concat([this.buf, chunk]) : chunk
    this.buf = null
    for (;;) {
      const idx = buf.indexOf('\r\n\r\n')
      if (idx < 0) break
      const head = buf.toString('latin1', 0, idx)
      const status = Number(head.split(' ', 2)[1])
      let end: number
      const cl = /content-length:\s*(\d+)/i.exec(head)
      if (cl) end = idx + 4 + Number(cl[1])
      else if (/transfer-encoding:\s*chunked/i.test(head)) {
        const z = buf.indexOf('\r\n0\r\n\r\n', idx)
        end = z < 0 ? Infinity : z + 7
        if (buf.indexOf('0\r\n\r\n', idx + 4) === idx + 4) end = idx + 9
      } else end = idx + 4
      if (end > buf.length) break
      buf = buf.subarray(end)
      this.done(status)
    }
    if (buf.length > 0) this.buf = buf
  }

  private done(status: number): void {
    const list = this.inFlight
    this.inFlight = []
    if (status >= 200 && status < 300) for (const s of list) this.pub.published.set(s, (this.pub.published.get(s) ?? 0) + 1)
    else this.pub.errors.push(`publish answered ${status}`)
    this.pub.sent += list.length
    this.pump()
    this.pub.onAnswer()
  }

  get idle(): boolean {
    return this.inFlight.length === 0 && this.queue.length === 0
  }

  close(): void {
    this.socket.destroy()
  }
}

/**
 * The load's publisher: HTTP POSTs on a few keep-alive connections. A stream always goes
 * through the same connection and requests on a connection are sequential, so each stream's
 * messages are published in order; where the server takes arrays, what queued up meanwhile
 * goes in one request.
 */
export class Publisher {
  readonly published = new Map<string, number>()
  readonly errors: string[] = []
  sent = 0
  queued = 0
  private readonly seqs = new Map<string, number>()
  private readonly conns: PubConn[]
  private readonly route = new Map<string, PubConn>()
  onAnswer: () => void = () => {}
  closed = false
  /** What the messages look like (set before publishing). */
  payloadKind: PayloadKind = 'pad'

  constructor(target: PublishTarget, connections: number) {
    this.conns = Array.from({ length: connections }, () => new PubConn(this, target))
  }

  async ready(): Promise<void> {
    await Promise.all(this.conns.map((c) => c.ready))
  }

  /** Reopens every connection (before a measured phase). */
  async reopen(): Promise<void> {
    await Promise.all(this.conns.map((c) => c.reopen()))
  }

  nextSeq(stream: string): number {
    const s = (this.seqs.get(stream) ?? 0) + 1
    this.seqs.set(stream, s)
    return s
  }

  publish(stream: string): void {
    let c = this.route.get(stream)
    if (!c) this.route.set(stream, (c = this.conns[this.route.size % this.conns.length]))
    c.queue.push({ stream })
    this.queued++
    c.pump()
  }

  get idle(): boolean {
    return this.conns.every((c) => c.idle)
  }

  /** Messages per stream accepted since the last call (for one phase's loss count). */
  takePublished(): Record<string, number> {
    const out = Object.fromEntries(this.published)
    this.published.clear()
    return out
  }

  close(): void {
    this.closed = true
    for (const c of this.conns) c.close()
  }
}
