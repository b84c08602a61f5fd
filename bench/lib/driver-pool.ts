import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { ClientSpec } from '../driver/conn.js'
import type { FromWorker, ToWorker, WorkerResult } from '../driver/worker.js'

const WORKER = fileURLToPath(new URL('../driver/worker.ts', import.meta.url))

/**
 * Connections per loopback source address. One source runs out of ephemeral ports at ~28k, and
 * connect() slows badly long before that once thousands of earlier runs' TIME_WAIT sockets share
 * its port space (measured: 4,000 connects took 24 s from 127.0.0.1, 4 s from fresh sources),
 * so each block of connections gets its own 127.0.0.x, rotating between runs.
 */
const PER_SOURCE = 2_000
const SOURCE_BASE = 2 + Math.floor(Math.random() * 200)
/** Connections opened by this process so far: every pool moves on to fresh sources. */
let opened = 0
const sourceFor = (g: number) => `127.0.0.${2 + ((SOURCE_BASE + Math.floor(g / PER_SOURCE)) % 250)}`

/**
 * The load driver: several forked processes (one reads ~50-68k deliveries/s and holds < 20,000
 * sockets), fed connections round-robin, their progress summed here.
 */
export class DriverPool {
  private readonly workers: ChildProcess[]
  private readonly delivered: number[]
  private readonly requests: number[]
  private total = 0
  private waiters: ((m: FromWorker, i: number) => void)[] = []
  onProgress: () => void = () => {}
  lastProgressAt = 0

  constructor(count: number) {
    this.workers = Array.from({ length: count }, () => fork(WORKER, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }))
    this.delivered = new Array(count).fill(0)
    this.requests = new Array(count).fill(0)
    this.workers.forEach((w, i) => w.on('message', (m: FromWorker) => this.onMessage(m, i)))
  }

  pids(): number[] {
    return this.workers.map((w) => w.pid!).filter(Boolean)
  }

  get size(): number {
    return this.workers.length
  }

  private onMessage(m: FromWorker, i: number): void {
    if (m.op === 'progress') {
      this.delivered[i] = m.delivered
      this.requests[i] = m.requests
      this.lastProgressAt = performance.now()
      this.onProgress()
      return
    }
    for (const w of this.waiters) w(m, i)
  }

  private send(i: number, m: ToWorker): void {
    this.workers[i].send(m)
  }

  private gather<T>(op: FromWorker['op'], pick: (m: FromWorker) => T): Promise<T[]> {
    return new Promise((resolve) => {
      const out: T[] = new Array(this.workers.length)
      let n = 0
      const w = (m: FromWorker, i: number) => {
        if (m.op !== op) return
        out[i] = pick(m)
        if (++n === this.workers.length) {
          this.waiters = this.waiters.filter((x) => x !== w)
          resolve(out)
        }
      }
      this.waiters.push(w)
    })
  }

  /** Opens one connection per stream entry, spread over the workers; resolves with how many opened. */
  async connect(spec: ClientSpec, streams: string[], concurrency = 256): Promise<{ ok: number; failed: number; error?: string }> {
    const parts: { streams: string[]; locals: string[] }[] = this.workers.map(() => ({ streams: [], locals: [] }))
    streams.forEach((s, k) => {
      const g = opened + k
      const p = parts[k % parts.length]
      p.streams.push(s)
      p.locals.push(sourceFor(g))
    })
    this.total += streams.length
    opened += streams.length
    const done = this.gather('connected', (m) => m as Extract<FromWorker, { op: 'connected' }>)
    parts.forEach((p, i) => this.send(i, { op: 'connect', spec, streams: p.streams, localAddresses: p.locals, concurrency: Math.ceil(concurrency / parts.length) }))
    const res = await done
    return { ok: res.reduce((a, r) => a + r.ok, 0), failed: res.reduce((a, r) => a + r.failed, 0), error: res.find((r) => r.error)?.error }
  }

  deliveredTotal(): number {
    return this.delivered.reduce((a, b) => a + b, 0)
  }

  requestsTotal(): number {
    return this.requests.reduce((a, b) => a + b, 0)
  }

  reset(): void {
    this.delivered.fill(0)
    this.requests.fill(0)
    this.workers.forEach((_, i) => this.send(i, { op: 'reset' }))
  }

  async collect(published: Record<string, number>): Promise<WorkerResult[]> {
    const done = this.gather('result', (m) => (m as Extract<FromWorker, { op: 'result' }>).result)
    this.workers.forEach((_, i) => this.send(i, { op: 'collect', published }))
    return done
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => new Promise<void>((resolve) => {
      if (w.exitCode !== null) return resolve()
      w.once('exit', () => resolve())
      w.send({ op: 'close' } satisfies ToWorker)
      setTimeout(() => w.kill('SIGKILL'), 3000).unref()
    })))
  }
}
