// `npm run bench -- jobs-bullmq [--jobs 2000] [--in-flight 64] [--workers 4] [--steps 5]`: jobs per
// second with a WebSocket subscriber on every job, and the latency from a handler's progress()
// to that subscriber (p50/p99), for in-process jobs (memory broker, then Redis) and for jobs
// run by `herald worker` processes through BullMQ on the same Redis. Loopback only; it cleans
// its Redis keys up. Not part of CI.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { parseArgs } from 'node:util'
import { Redis } from 'ioredis'
import { WebSocket } from 'ws'
import { loadConfig } from '../src/config/load.js'
import type { HeraldConfigInput } from '../src/config/schema.js'
import { Herald } from '../src/herald.js'
import { createLogger } from '../src/observability/logger.js'
import { signedIdentifier } from '../src/protocol/identifier.js'
import { bench } from './fixtures/bench-jobs.js'

const { values } = parseArgs({
  args: process.argv.slice(3),
  options: { jobs: { type: 'string' }, 'in-flight': { type: 'string' }, workers: { type: 'string' }, steps: { type: 'string' } },
})
const JOBS = Number(values.jobs ?? 2000)
const IN_FLIGHT = Number(values['in-flight'] ?? 64)
const WORKERS = Number(values.workers ?? 4)
const STEPS = Number(values.steps ?? 5)
const redisUrl = process.env.HERALD_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
const prefix = `benchjobs${Date.now().toString(36)}`
const root = new URL('..', import.meta.url).pathname
const clock = () => performance.timeOrigin + performance.now()

interface Figures { mode: string; jobsPerSec: number; p50: number; p99: number; events: number }

/** Clients over a few WebSockets: each job subscribed from its start, until its final event. */
class Followers {
  private readonly waiting = new Map<string, () => void>()
  /** Identifiers whose backlog is out (confirm_history): their events from here on are live. */
  private readonly live = new Set<string>()
  readonly latencies: number[] = []
  private next = 0
  private constructor(private readonly sockets: WebSocket[]) {
    for (const ws of sockets) {
      ws.on('message', (raw) => {
        const m = JSON.parse(raw.toString())
        if (m.type === 'confirm_history' || m.type === 'reject_history') this.live.add(m.identifier)
        const e = m.message
        if (!e || m.type) return
        // Replayed events measure the subscribe, not the delivery: only live ones count.
        if (e.type === 'progress' && e.data?.t && this.live.has(m.identifier)) this.latencies.push(clock() - e.data.t)
        if (e.type === 'succeeded' || e.type === 'failed' || e.type === 'cancelled') {
          this.waiting.get(e.job)?.()
          this.live.delete(m.identifier)
          ws.send(JSON.stringify({ command: 'unsubscribe', identifier: m.identifier }))
        }
      })
    }
  }

  static async open(url: string, n: number): Promise<Followers> {
    const sockets = await Promise.all(Array.from({ length: n }, async () => {
      const ws = new WebSocket(url, 'actioncable-v1-ext-json')
      await once(ws, 'open')
      return ws
    }))
    return new Followers(sockets)
  }

  follow(job: { id: string; signedStream: string; createdAt: string }): Promise<void> {
    const done = new Promise<void>((resolve) => this.waiting.set(job.id, resolve))
    const since = Math.floor(Date.parse(job.createdAt) / 1000) - 1
    this.sockets[this.next++ % this.sockets.length].send(JSON.stringify({ command: 'subscribe', identifier: signedIdentifier(job.signedStream), history: { since, streams: {} } }))
    return done.finally(() => this.waiting.delete(job.id))
  }

  close(): void {
    for (const ws of this.sockets) ws.close()
  }
}

async function node(overrides: HeraldConfigInput): Promise<Herald> {
  const config = loadConfig({ overrides: { host: '127.0.0.1', port: 0, streamsSecret: prefix, maxSubscriptions: 10_000, historyLimit: 100, ...overrides } })
  const herald = new Herald({ config, logger: createLogger('err') })
  herald.defineJob('bench', bench)
  await herald.listen()
  return herald
}

async function run(mode: string, herald: Herald): Promise<Figures> {
  const followers = await Followers.open(`${herald.url.replace('http', 'ws')}/cable`, 8)
  let started = 0
  const t0 = clock()
  await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
    while (started < JOBS) {
      started++
      const res = await fetch(`${herald.url}/jobs`, { method: 'POST', body: JSON.stringify({ type: 'bench', input: { steps: STEPS } }) })
      if (res.status !== 201) throw new Error(`POST /jobs: ${res.status} ${await res.text()}`)
      await Promise.race([followers.follow(await res.json()), new Promise((_, reject) => setTimeout(() => reject(new Error('a job did not end within 60 s')), 60_000).unref())])
    }
  }))
  const seconds = (clock() - t0) / 1000
  followers.close()
  const sorted = followers.latencies.sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN
  return { mode, jobsPerSec: JOBS / seconds, p50: at(0.5), p99: at(0.99), events: sorted.length }
}

function startWorker(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'worker',
    '--broker', 'redis', '--redis-url', redisUrl, '--broker-prefix', prefix, '--jobs-queue-prefix', `${prefix}b`,
    '--jobs-handlers', 'bench/fixtures/bench-jobs.ts', '--jobs-concurrency', '16', '--log-level', 'err', '--streams-secret', prefix,
  ], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] })
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => { if (chunk.toString().includes('herald worker ')) resolve(child) })
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}`)))
    setTimeout(() => reject(new Error('worker did not start in 30 s')), 30_000).unref()
  })
}

async function cleanup(): Promise<void> {
  const admin = new Redis(redisUrl)
  let cursor = '0'
  do {
    const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
    cursor = next
    if (keys.length) await admin.del(...keys)
  } while (cursor !== '0')
  await admin.quit()
}

async function main(): Promise<void> {
  const rows: Figures[] = []
  const say = (s: string) => process.stderr.write(`${s}\n`)
  say(`jobs-bullmq: ${JOBS} jobs of ${STEPS} progress reports, ${IN_FLIGHT} in flight, a WebSocket subscriber on each`)
  for (const [mode, overrides] of [['in-process, memory broker', {}], ['in-process, Redis broker', { broker: 'redis', redisUrl, brokerPrefix: prefix }]] as const) {
    const h = await node(overrides as HeraldConfigInput)
    rows.push(await run(mode, h))
    await h.close(200)
    say(JSON.stringify(rows.at(-1)))
  }
  const workers = await Promise.all(Array.from({ length: WORKERS }, startWorker))
  try {
    const h = await node({ broker: 'redis', redisUrl, brokerPrefix: prefix, jobs: 'bullmq', jobsQueuePrefix: `${prefix}b` })
    rows.push(await run(`BullMQ, ${WORKERS} herald worker processes (concurrency 16)`, h))
    await h.close(200)
    say(JSON.stringify(rows.at(-1)))
  } finally {
    for (const w of workers) w.kill('SIGTERM')
    await Promise.all(workers.map((w) => (w.exitCode === null ? once(w, 'exit') : undefined)))
    await cleanup()
  }
  process.stdout.write('\n| jobs run | jobs/s | progress → client p50 | p99 | live progress events measured |\n| --- | --- | --- | --- | --- |\n')
  for (const r of rows) process.stdout.write(`| ${r.mode} | ${r.jobsPerSec.toFixed(0)} | ${r.p50.toFixed(2)} ms | ${r.p99.toFixed(2)} ms | ${r.events} |\n`)
}

await main()
process.exit(0)
