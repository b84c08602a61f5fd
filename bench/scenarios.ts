import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { costByStep, monotonicUs, STEPS } from './lib/cost-budget.js'
import { DriverPool } from './lib/driver-pool.js'
import { cpuSample, groupCpu, groupRss, groupWritten, groupWriteCalls, stealPercent, cpuSeconds } from './lib/proc.js'
import { Publisher, type PayloadKind } from './lib/publisher.js'
import { latency, sum, type Figures } from './lib/stats.js'
import { sleep, type BenchTransport, type RunningServer, type ServerAdapter, type StartOptions } from './servers/server.js'

export interface Options {
  /** Fan-out subscriber counts per transport kind (HTTP/1.1 WebSocket, SSE/NDJSON, the HTTP/2 variants, long polling). */
  fanoutWs: number[]
  fanoutHttp: number[]
  fanoutH2: number[]
  fanoutPoll: number[]
  /** Jobs sizes: WebSocket/SSE/NDJSON over HTTP/1.1, and the rest (HTTP/2, long polling). */
  jobs: number[]
  jobsSmall: number[]
  idle: number[]
  churnClients: number
  churnRate: number
  /** Seconds of the 10 msg/s phase, of a jobs phase, of the churn phase. */
  rateSeconds: number
  jobsSeconds: number
  churnSeconds: number
  /** Deliveries aimed at in one flat-out phase, and its time cap. */
  flatDeliveries: number
  flatMaxSeconds: number
  workers: number
  /** Above this many subscribers the 10 msg/s phase is skipped: it only measures an overloaded driver. */
  rateMaxSubscribers: number
  /** Everyday rate: subscriber counts, and seconds of its measured 10 msg/s phase. */
  everyday: number[]
  everydaySeconds: number
  /** Compression: subscriber counts (WebSocket, JSON progress events, 10 msg/s then flat out). */
  compression: number[]
}

/** A measured row: which server/transport/size/phase and its figures. */
export interface Row {
  scenario: 'fanout' | 'jobs' | 'idle' | 'churn' | 'everyday' | 'compression'
  server: string
  transport: BenchTransport
  size: number
  phase: string
  figures?: Figures
  idle?: IdleFigures
  note?: string
  /** Jobs cost budget (Herald, profiled run): server CPU µs per publication by step of the publish path. */
  budget?: Record<string, number>
}

export interface IdleFigures {
  rssPerConn: number
  heapPerConn: number
  connectPerSec: number
  rssBase: number
  ended: number
}

const runId = Date.now().toString(36)

function workersFor(connections: number, opts: Options): number {
  return Math.max(opts.workers, Math.ceil(connections / 7000))
}

/** Waits until the server reports `want` subscriptions (every server has a way to count them). */
async function waitSubscribed(srv: RunningServer, want: number, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs
  let n = 0
  while (Date.now() < deadline) {
    n = await srv.subscribers()
    if (n >= want) return n
    await sleep(50)
  }
  return n
}

interface PhasePlan {
  streams: string[]
  /** Subscribers per stream: the deliveries one message makes. */
  perStream: number
  mode: 'rate' | 'flat'
  /** rate: messages per second per stream; flat: in-flight messages allowed. */
  rate?: number
  window?: number
  seconds: number
  messages?: number
}

/**
 * One measured phase on connected clients: publish per the plan, wait until every delivery
 * arrived (or nothing moved for 2 s), then read CPU, latency and sequence figures.
 */
async function phase(srv: RunningServer, driver: DriverPool, pub: Publisher, plan: PhasePlan): Promise<Figures> {
  driver.reset()
  await pub.reopen()
  pub.takePublished()
  const errors0 = pub.errors.length
  await sleep(150)
  const serverPids = srv.pids()
  const driverPids = driver.pids()
  const cpu0 = groupCpu(serverPids)
  const w0 = groupWritten(serverPids)
  const sc0 = groupWriteCalls(serverPids)
  const d0 = driverPids.map(cpuSeconds)
  const self0 = process.cpuUsage()
  const steal0 = cpuSample()
  const t0 = performance.now()
  let issued = 0
  let lastDeliveryAt = t0
  let lastDelivered = 0
  const K = plan.streams.length
  const fill = () => {
    if (plan.mode === 'flat') {
      const done = driver.deliveredTotal() / plan.perStream
      while (issued < (plan.messages ?? Infinity) && issued - done < (plan.window ?? 10) && performance.now() - t0 < plan.seconds * 1000) {
        pub.publish(plan.streams[issued % K])
        issued++
      }
    } else {
      const elapsed = (performance.now() - t0) / 1000
      const target = Math.floor(Math.min(elapsed, plan.seconds) * (plan.rate ?? 10) * K)
      while (issued < target) {
        pub.publish(plan.streams[issued % K])
        issued++
      }
    }
  }
  driver.onProgress = () => {
    const d = driver.deliveredTotal()
    if (d !== lastDelivered) {
      lastDelivered = d
      lastDeliveryAt = performance.now()
    }
    if (plan.mode === 'flat') fill()
  }
  pub.onAnswer = plan.mode === 'flat' ? fill : () => {}
  const ticker = setInterval(fill, plan.mode === 'rate' ? 5 : 20)
  fill()
  // Publishing: until the time is up (or, flat out, the message budget is spent).
  while (performance.now() - t0 < plan.seconds * 1000 && !(plan.mode === 'flat' && issued >= (plan.messages ?? Infinity))) await sleep(10)
  clearInterval(ticker)
  // Draining: until every accepted message reached every subscriber, or nothing moved for 2 s.
  const drainStart = performance.now()
  for (;;) {
    const expected = sum0(pub.published) * plan.perStream
    if (pub.idle && driver.deliveredTotal() >= expected) break
    const now = performance.now()
    if (now - Math.max(lastDeliveryAt, drainStart) > 2000 || now - drainStart > 15_000) break
    await sleep(10)
  }
  await sleep(50)
  const tEnd = Math.max(lastDeliveryAt, t0 + 1)
  const cpu1 = groupCpu(serverPids)
  const w1 = groupWritten(serverPids)
  const sc1 = groupWriteCalls(serverPids)
  const d1 = driverPids.map(cpuSeconds)
  const self1 = process.cpuUsage(self0)
  const steal1 = cpuSample()
  driver.onProgress = () => {}
  pub.onAnswer = () => {}
  const published = pub.takePublished()
  const results = await driver.collect(published)
  // Which state a connection that missed messages was left in (a stalled server vs a parser): to stderr.
  for (const r of results) if (r.firstLoss) process.stderr.write(`lost messages on one connection, its state: ${r.firstLoss}\n`)
  const span = (tEnd - t0) / 1000
  const delivered = sum(results, 'delivered')
  const driverCpu = d1.map((c, i) => c - d0[i])
  const selfCpu = (self1.user + self1.system) / 1e6
  const nPublished = Object.values(published).reduce((a, b) => a + b, 0)
  return {
    delivered,
    deliveriesPerSec: delivered / span,
    ...latency(results),
    lost: sum(results, 'lost'),
    dup: sum(results, 'dup'),
    reorder: sum(results, 'reorder'),
    ended: sum(results, 'ended'),
    requestsPerSec: sum(results, 'requests') / span,
    serverCpuPct: (100 * (cpu1 - cpu0)) / span,
    cpuPerDeliveryUs: delivered > 0 ? ((cpu1 - cpu0) * 1e6) / delivered : NaN,
    wireBytesPerDelivery: delivered > 0 && w1 > 0 ? (w1 - w0) / delivered : NaN,
    writesPerDelivery: delivered > 0 && sc1 > 0 ? (sc1 - sc0) / delivered : NaN,
    driverCpuPct: (100 * (driverCpu.reduce((a, b) => a + b, 0) + selfCpu)) / span,
    driverMaxPct: (100 * Math.max(selfCpu, ...driverCpu)) / span,
    stealPct: stealPercent(steal0, steal1),
    published: nPublished,
    publishPerSec: nPublished / span,
    publishErrors: pub.errors.length - errors0,
    spanSec: span,
  }
}

function sum0(m: Map<string, number>): number {
  let s = 0
  for (const v of m.values()) s += v
  return s
}

interface Session {
  srv: RunningServer
  driver: DriverPool
  pub: Publisher
  connected: number
}

async function open(adapter: ServerAdapter, maxConnections: number, pubConns: number, opts: Options, start?: StartOptions, payloadKind: PayloadKind = 'pad'): Promise<Session> {
  const srv = await adapter.start(start)
  const driver = new DriverPool(workersFor(maxConnections, opts))
  const pub = new Publisher(srv.publish, pubConns)
  pub.payloadKind = payloadKind
  await pub.ready()
  return { srv, driver, pub, connected: 0 }
}

async function close(s: Session): Promise<void> {
  s.pub.close()
  await s.driver.close()
  await s.srv.stop()
}

/** Adds connections up to `total` (all on `streamOf(i)`) and waits until the server has them all. */
async function grow(s: Session, transport: BenchTransport, total: number, streamOf: (i: number) => string, subscribeTimeoutMs = 30_000): Promise<{ note?: string; seconds: number }> {
  const streams = Array.from({ length: total - s.connected }, (_, k) => streamOf(s.connected + k))
  const t0 = performance.now()
  const res = await s.driver.connect(s.srv.client(transport), streams, 512)
  const tOpen = performance.now()
  const subscribed = await waitSubscribed(s.srv, total, subscribeTimeoutMs)
  if (process.env.BENCH_DEBUG) process.stderr.write(`connect ${streams.length}: opened in ${((tOpen - t0) / 1000).toFixed(2)} s, subscribed after ${((performance.now() - tOpen) / 1000).toFixed(2)} s more\n`)
  const seconds = (performance.now() - t0) / 1000
  s.connected = total
  const problems = []
  if (res.failed > 0) problems.push(`${res.failed} connections failed (${res.error})`)
  if (subscribed < total) problems.push(`only ${subscribed}/${total} subscribed`)
  return { note: problems.length ? problems.join('; ') : undefined, seconds }
}

/** Fan-out: N subscribers on one stream; 10 msg/s for latency, then flat out for throughput. */
export async function fanout(adapter: ServerAdapter, transport: BenchTransport, sizes: number[], opts: Options, log: (s: string) => void): Promise<Row[]> {
  const rows: Row[] = []
  const stream = `fanout-${runId}-${adapter.name}-${transport}`
  const s = await open(adapter, Math.max(...sizes), 1, opts)
  try {
    for (const N of sizes) {
      const g = await grow(s, transport, N, () => stream)
      if (g.note) {
        rows.push({ scenario: 'fanout', server: adapter.name, transport, size: N, phase: '10 msg/s', note: g.note })
        log(`  ${adapter.name}/${transport} N=${N}: ${g.note}`)
        break
      }
      // Unmeasured warm-up: the first messages after connecting pay for JIT and lazy allocation.
      await phase(s.srv, s.driver, s.pub, { streams: [stream], perStream: N, mode: 'flat', window: 3, messages: 10, seconds: 2 })
      if (N <= opts.rateMaxSubscribers) {
        const rate = await phase(s.srv, s.driver, s.pub, { streams: [stream], perStream: N, mode: 'rate', rate: 10, seconds: opts.rateSeconds })
        rows.push({ scenario: 'fanout', server: adapter.name, transport, size: N, phase: '10 msg/s', figures: rate })
        log(`  ${adapter.name}/${transport} N=${N} 10 msg/s: p50 ${rate.p50.toFixed(1)} p99 ${rate.p99.toFixed(1)} ms, server ${rate.cpuPerDeliveryUs.toFixed(1)} µs/delivery (${rate.serverCpuPct.toFixed(0)}%), driver ${rate.driverCpuPct.toFixed(0)}%, lost ${rate.lost} dup ${rate.dup} reorder ${rate.reorder}`)
      }
      const messages = Math.min(2000, Math.max(20, Math.ceil(opts.flatDeliveries / N)))
      const window = Math.min(50, Math.max(3, Math.ceil(40_000 / N)))
      const flat = await phase(s.srv, s.driver, s.pub, { streams: [stream], perStream: N, mode: 'flat', window, messages, seconds: opts.flatMaxSeconds })
      rows.push({ scenario: 'fanout', server: adapter.name, transport, size: N, phase: 'flat out', figures: flat })
      log(`  ${adapter.name}/${transport} N=${N} flat out: ${Math.round(flat.deliveriesPerSec)} deliveries/s, server ${flat.cpuPerDeliveryUs.toFixed(1)} µs/delivery, ${flat.writesPerDelivery?.toFixed(2)} writes/delivery, driver ${flat.driverCpuPct.toFixed(0)}%, lost ${flat.lost} dup ${flat.dup} reorder ${flat.reorder}`)
    }
  } finally {
    await close(s)
  }
  return rows
}

/**
 * Everyday rate (issue #14): N subscribers on one stream and 10 messages a second, nothing else:
 * one write per message per socket, where batching has nothing to batch. Server CPU per delivery
 * and publish-to-receive latency over a longer phase than fan-out's 10 msg/s warm-up row.
 */
export async function everyday(adapter: ServerAdapter, transport: BenchTransport, sizes: number[], opts: Options, log: (s: string) => void): Promise<Row[]> {
  const rows: Row[] = []
  const stream = `everyday-${runId}-${adapter.name}-${transport}`
  const s = await open(adapter, Math.max(...sizes), 1, opts)
  try {
    for (const N of sizes) {
      const g = await grow(s, transport, N, () => stream)
      if (g.note) {
        rows.push({ scenario: 'everyday', server: adapter.name, transport, size: N, phase: '10 msg/s', note: g.note })
        log(`  ${adapter.name}/${transport} N=${N}: ${g.note}`)
        break
      }
      // Unmeasured warm-up, as in fan-out: JIT and lazy allocation on the first messages.
      await phase(s.srv, s.driver, s.pub, { streams: [stream], perStream: N, mode: 'rate', rate: 10, seconds: 1 })
      const f = await phase(s.srv, s.driver, s.pub, { streams: [stream], perStream: N, mode: 'rate', rate: 10, seconds: opts.everydaySeconds })
      rows.push({ scenario: 'everyday', server: adapter.name, transport, size: N, phase: '10 msg/s', figures: f })
      log(`  ${adapter.name}/${transport} N=${N} everyday 10 msg/s: server ${f.cpuPerDeliveryUs.toFixed(1)} µs/delivery, p50 ${f.p50.toFixed(1)} p99 ${f.p99.toFixed(1)} ms, lost ${f.lost} dup ${f.dup} reorder ${f.reorder}`)
    }
  } finally {
    await close(s)
  }
  return rows
}

/**
 * Compression (issue #14): N WebSocket subscribers on one stream receiving JSON job-progress
 * events (~330 B), each server started with permessage-deflate (Herald `--ws-compression`:
 * compressed once per broadcast; ws and Socket.IO: per socket, as they do) and without it, the
 * driver offering Chromium's `permessage-deflate; client_max_window_bits` and inflating. Bytes on
 * the wire per delivery (the server's written bytes), server CPU per delivery at 10 msg/s and
 * flat out.
 */
export async function compression(adapter: ServerAdapter, transport: BenchTransport, sizes: number[], opts: Options, log: (s: string) => void): Promise<Row[]> {
  const rows: Row[] = []
  for (const mode of ['deflate', 'plain'] as const) {
    const stream = `compression-${runId}-${adapter.name}-${transport}-${mode}`
    const s = await open(adapter, Math.max(...sizes), 1, opts, { wsCompression: mode === 'deflate' }, 'progress')
    try {
      for (const N of sizes) {
        const g = await grow(s, transport, N, () => stream)
        if (g.note) {
          rows.push({ scenario: 'compression', server: adapter.name, transport, size: N, phase: `${mode} 10 msg/s`, note: g.note })
          log(`  ${adapter.name}/${transport} ${mode} N=${N}: ${g.note}`)
          break
        }
        await phase(s.srv, s.driver, s.pub, { streams: [stream], perStream: N, mode: 'flat', window: 3, messages: 10, seconds: 2 })
        const rate = await phase(s.srv, s.driver, s.pub, { streams: [stream], perStream: N, mode: 'rate', rate: 10, seconds: opts.everydaySeconds })
        rows.push({ scenario: 'compression', server: adapter.name, transport, size: N, phase: `${mode} 10 msg/s`, figures: rate })
        const messages = Math.min(2000, Math.max(20, Math.ceil(opts.flatDeliveries / N)))
        const window = Math.min(50, Math.max(3, Math.ceil(40_000 / N)))
        const flat = await phase(s.srv, s.driver, s.pub, { streams: [stream], perStream: N, mode: 'flat', window, messages, seconds: opts.flatMaxSeconds })
        rows.push({ scenario: 'compression', server: adapter.name, transport, size: N, phase: `${mode} flat out`, figures: flat })
        log(`  ${adapter.name}/${transport} ${mode} N=${N}: ${rate.wireBytesPerDelivery?.toFixed(0)} B/delivery, server ${rate.cpuPerDeliveryUs.toFixed(1)} µs/delivery at 10 msg/s, ${flat.cpuPerDeliveryUs.toFixed(1)} flat out (${Math.round(flat.deliveriesPerSec)}/s), p50 ${rate.p50.toFixed(1)} ms, lost ${rate.lost + flat.lost} dup ${rate.dup + flat.dup} reorder ${rate.reorder + flat.reorder}`)
      }
    } finally {
      await close(s)
    }
  }
  return rows
}

/** Jobs: K subscribers, each on its own stream, each stream published 10 times a second. */
export async function jobs(adapter: ServerAdapter, transport: BenchTransport, sizes: number[], opts: Options, log: (s: string) => void): Promise<Row[]> {
  const rows: Row[] = []
  const streamOf = (i: number) => `job-${runId}-${adapter.name}-${transport}-${i}`
  const s = await open(adapter, Math.max(...sizes), 4, opts)
  try {
    for (const K of sizes) {
      const g = await grow(s, transport, K, streamOf)
      if (g.note) {
        rows.push({ scenario: 'jobs', server: adapter.name, transport, size: K, phase: '10/s each', note: g.note })
        log(`  ${adapter.name}/${transport} K=${K}: ${g.note}`)
        break
      }
      const streams = Array.from({ length: K }, (_, i) => streamOf(i))
      // Unmeasured warm-up, as in fan-out and everyday: JIT and lazy allocation on the first publications.
      await phase(s.srv, s.driver, s.pub, { streams, perStream: 1, mode: 'rate', rate: 10, seconds: 1 })
      const f = await phase(s.srv, s.driver, s.pub, { streams, perStream: 1, mode: 'rate', rate: 10, seconds: opts.jobsSeconds })
      rows.push({ scenario: 'jobs', server: adapter.name, transport, size: K, phase: '10/s each', figures: f })
      log(`  ${adapter.name}/${transport} K=${K}: ${Math.round(f.deliveriesPerSec)} deliveries/s of ${K * 10} offered, server ${f.cpuPerDeliveryUs.toFixed(1)} µs/delivery, ${f.writesPerDelivery?.toFixed(2)} writes/delivery, p99 ${f.p99.toFixed(1)} ms, lost ${f.lost} dup ${f.dup} reorder ${f.reorder}`)
    }
  } finally {
    await close(s)
  }
  return rows
}

/**
 * The jobs scenario once more with the server under V8's CPU profiler (`--cpu-prof`), its samples
 * cut to the measured phase and charged to the steps of the publish path (lib/cost-budget.ts):
 * CPU µs per publication by step. A run of its own because the profiler costs a few percent.
 */
export async function jobsBudget(adapter: ServerAdapter, transport: BenchTransport, K: number, opts: Options, log: (s: string) => void): Promise<Row> {
  const dir = mkdtempSync('/tmp/herald-bench-prof-')
  const streamOf = (i: number) => `budget-${runId}-${adapter.name}-${transport}-${i}`
  const s = await open(adapter, K, 4, opts, { cpuProfileDir: dir })
  let f: Figures, from: number, to: number
  try {
    const g = await grow(s, transport, K, streamOf)
    if (g.note) throw new Error(g.note)
    const streams = Array.from({ length: K }, (_, i) => streamOf(i))
    await phase(s.srv, s.driver, s.pub, { streams, perStream: 1, mode: 'rate', rate: 10, seconds: 1 })
    from = monotonicUs()
    f = await phase(s.srv, s.driver, s.pub, { streams, perStream: 1, mode: 'rate', rate: 10, seconds: opts.jobsSeconds })
    to = monotonicUs()
  } finally {
    await close(s)
  }
  try {
    const file = readdirSync(dir).find((n) => n.endsWith('.cpuprofile'))
    if (!file) throw new Error('the server wrote no CPU profile')
    const cost = costByStep(join(dir, file), from, to)
    const budget: Record<string, number> = {}
    for (const step of STEPS) budget[step] = cost.get(step)! / f.published
    const total = Object.values(budget).reduce((a, b) => a + b, 0)
    log(`  ${adapter.name}/${transport} K=${K} budget: ${total.toFixed(1)} µs/publication (${f.published} publications), ${STEPS.map((st) => `${st.split(' ')[0]} ${budget[st]!.toFixed(1)}`).join(', ')}`)
    return { scenario: 'jobs', server: adapter.name, transport, size: K, phase: 'budget', figures: f, budget }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** What `many` measured: memory and connect time for N connections, then fan-out to all of them. */
export interface ManyFigures {
  connections: number
  rssBase: number
  rssPerConn: number
  connectSeconds: number
  figures?: Figures
  note?: string
}

/**
 * Many connections on one machine: N WebSockets on one stream (the driver spread over several
 * processes and loopback source addresses), RSS per connection over all the server's processes
 * and the time until every subscription is counted, then 10 msg/s to all of them.
 */
export async function many(adapter: ServerAdapter, N: number, opts: Options, log: (s: string) => void): Promise<ManyFigures> {
  const stream = `many-${runId}`
  const s = await open(adapter, N, 1, opts)
  try {
    await sleep(500)
    const rssBase = groupRss(s.srv.pids())
    const g = await grow(s, 'ws', N, () => stream, 300_000)
    await sleep(1000)
    const rssPerConn = (groupRss(s.srv.pids()) - rssBase) / N
    log(`  ${adapter.name} N=${N}: connected in ${g.seconds.toFixed(1)} s, RSS ${(rssPerConn / 1024).toFixed(1)} KiB/conn${g.note ? ` (${g.note})` : ''}`)
    if (g.note) return { connections: N, rssBase, rssPerConn, connectSeconds: g.seconds, note: g.note }
    const f = await phase(s.srv, s.driver, s.pub, { streams: [stream], perStream: N, mode: 'rate', rate: 10, seconds: opts.rateSeconds })
    log(`  ${adapter.name} N=${N} 10 msg/s: p50 ${f.p50.toFixed(1)} p99 ${f.p99.toFixed(1)} ms, ${Math.round(f.deliveriesPerSec)} deliveries/s, server ${f.cpuPerDeliveryUs.toFixed(1)} µs/delivery, driver ${f.driverCpuPct.toFixed(0)}%, lost ${f.lost} dup ${f.dup} reorder ${f.reorder}`)
    return { connections: N, rssBase, rssPerConn, connectSeconds: g.seconds, figures: f }
  } finally {
    await close(s)
  }
}

/**
 * Idle: N connections, each subscribed to its own stream; memory per connection and connect
 * rate. A fifth of them connect first and the baseline is taken then, so start-up garbage and
 * one-off growth (pools, tables) are not counted per connection; the figures are the growth
 * over the other four fifths.
 */
export async function idle(adapter: ServerAdapter, transport: BenchTransport, sizes: number[], opts: Options, log: (s: string) => void): Promise<Row[]> {
  const rows: Row[] = []
  for (const N of sizes) {
    const s = await open(adapter, N, 1, opts)
    try {
      const first = Math.ceil(N / 5)
      const streamOf = (i: number) => `idle-${runId}-${adapter.name}-${transport}-${i}`
      const g0 = await grow(s, transport, first, streamOf)
      await sleep(300)
      await s.srv.heapUsed()
      const heap0 = (await s.srv.heapUsed()) ?? NaN
      await sleep(100)
      const rss0 = groupRss(s.srv.pids())
      const g = await grow(s, transport, N, streamOf)
      await sleep(500)
      const heap1 = (await s.srv.heapUsed()) ?? NaN
      await sleep(100)
      const rss1 = groupRss(s.srv.pids())
      const n = N - first
      const f: IdleFigures = { rssPerConn: (rss1 - rss0) / n, heapPerConn: (heap1 - heap0) / n, connectPerSec: n / g.seconds, rssBase: rss0, ended: 0 }
      const note = [g0.note, g.note].filter(Boolean).join('; ') || undefined
      rows.push({ scenario: 'idle', server: adapter.name, transport, size: N, phase: 'idle', idle: f, note })
      log(`  ${adapter.name}/${transport} N=${N}: RSS ${(f.rssPerConn / 1024).toFixed(1)} KiB/conn, heap ${(f.heapPerConn / 1024).toFixed(1)} KiB/conn, ${Math.round(f.connectPerSec)} connects/s${note ? ` (${note})` : ''}`)
    } finally {
      await close(s)
    }
  }
  return rows
}

/** Long-poll churn: clients re-poll after every answer while a trickle of messages arrives. */
export async function churn(adapter: ServerAdapter, transport: BenchTransport, opts: Options, log: (s: string) => void): Promise<Row[]> {
  const N = opts.churnClients
  const stream = `churn-${runId}-${adapter.name}`
  const s = await open(adapter, N, 1, opts)
  try {
    const g = await grow(s, transport, N, () => stream)
    if (g.note) return [{ scenario: 'churn', server: adapter.name, transport, size: N, phase: `${opts.churnRate} msg/s`, note: g.note }]
    const f = await phase(s.srv, s.driver, s.pub, { streams: [stream], perStream: N, mode: 'rate', rate: opts.churnRate, seconds: opts.churnSeconds })
    log(`  ${adapter.name}/${transport} N=${N}: ${Math.round(f.requestsPerSec)} req/s, ${f.cpuPerDeliveryUs.toFixed(1)} µs server CPU/delivery, lost ${f.lost} dup ${f.dup} reorder ${f.reorder}`)
    return [{ scenario: 'churn', server: adapter.name, transport, size: N, phase: `${opts.churnRate} msg/s`, figures: f }]
  } finally {
    await close(s)
  }
}
