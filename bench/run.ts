/**
 * `npm run bench` — Herald side by side with a hand-tuned raw ws server, Socket.IO 4.x and
 * Nchan, same driver and workload. `npm run bench -- --help` lists the options.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { basename, dirname } from 'node:path'
import { parseArgs } from 'node:util'
import { churn, compression, everyday, fanout, idle, jobs, jobsBudget, type Options, type Row } from './scenarios.js'
import { cpuSample, stealPercent } from './lib/proc.js'
import { machine, renderReport, renderTables, shortMachine, type ReportInput } from './report.js'
import { renderPlots, type ManySaved } from './report-summary.js'
import { soakSection, withSoakSection } from './lib/soak-report.js'
import { buildClient, sizeLine } from '../scripts/build-client.js'
import { herald } from './servers/herald.js'
import { nchan } from './servers/nchan.js'
import { socketIoPeer, wsPeer } from './servers/node-peers.js'
import { ALL_TRANSPORTS, splitTransport, type BenchTransport, type ServerAdapter } from './servers/server.js'

// A scenario of its own (jobs through BullMQ workers, bench/jobs-bullmq.ts): it runs and exits there.
if (process.argv[2] === 'jobs-bullmq') await import('./jobs-bullmq.js')
// The same for cluster shapes (brokers, several nodes, --workers): bench/cluster.ts.
if (process.argv[2] === 'cluster') await import('./cluster.js')
// Many connections on one machine (bench/many.ts): --workers on Redis, 50,000 WebSockets.
if (process.argv[2] === 'many') await import('./many.js')
// The soak (bench/soak.ts): long churn against one Herald, memory sampled each minute.
if (process.argv[2] === 'soak') await import('./soak.js')

const SERVERS: Record<string, ServerAdapter> = { herald, ws: wsPeer, 'socket.io': socketIoPeer, nchan }
const SCENARIOS = ['fanout', 'everyday', 'compression', 'jobs', 'idle', 'churn'] as const
type Scenario = (typeof SCENARIOS)[number]

const HELP = `npm run bench -- [scenario ...] [options]

scenarios: ${SCENARIOS.join(', ')} (default: all); jobs-bullmq alone (options: bench/jobs-bullmq.ts); cluster alone (bench/cluster.ts)
  many alone: npm run bench -- many [--connections 50000] [--workers 3] [--seconds 3] [--report docs/benchmarks-many.md]
  soak alone: npm run bench -- soak [--minutes 30] [--connections 3000] [--sample-seconds 60] [--report docs/benchmarks.md]
  --servers herald,ws,socket.io,nchan   servers to run (default: all)
  --transports ws,sse,ndjson,long-poll  transports to run (default: all each server has); the
                                        HTTP/2 variants are ws-h2, sse-h2, ndjson-h2, long-poll-h2
  --subscribers 1000,5000,15000         fan-out sizes for WebSocket (and for every transport when given)
  --jobs 1000,10000                     jobs sizes (HTTP/2 and long polling: 1000)
  --idle 5000                           idle connection counts
  --everyday 1000,5000                  everyday-rate sizes (10 msg/s on one stream; WebSocket and SSE)
  --everyday-seconds 5                  length of the everyday-rate (and compression) 10 msg/s phase
  --compression 1000                    compression sizes (WebSocket, permessage-deflate on and off, JSON progress events)
  --repeats 2                           runs of everything, interleaved server by server
  --jobs-repeats 1                      runs of the jobs scenario (its 10k connects dominate the time budget)
  --h2-repeats 1                        runs of the HTTP/2 variants (they double the run's length)
  --report docs/benchmarks.md           also write the Markdown report there (the rows go to <report>.json too)
  --from-json docs/benchmarks.json      re-render the report from a saved run instead of running
  --smoke                               the smallest run: 20 subscribers, short phases
`

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    servers: { type: 'string' },
    transports: { type: 'string' },
    subscribers: { type: 'string' },
    jobs: { type: 'string' },
    idle: { type: 'string' },
    everyday: { type: 'string' },
    'everyday-seconds': { type: 'string' },
    compression: { type: 'string' },
    repeats: { type: 'string' },
    'jobs-repeats': { type: 'string' },
    'h2-repeats': { type: 'string' },
    report: { type: 'string' },
    'from-json': { type: 'string' },
    smoke: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
})
if (values.help) {
  process.stdout.write(HELP)
  process.exit(0)
}

const list = (s: string | undefined) => s?.split(',').map((x) => x.trim()).filter(Boolean)
const nums = (s: string | undefined) => list(s)?.map(Number)
const smoke = values.smoke ?? false

const opts: Options = smoke
  ? {
      fanoutWs: [20], fanoutHttp: [20], fanoutH2: [20], fanoutPoll: [20], jobs: [20], jobsSmall: [20], idle: [20],
      churnClients: 20, churnRate: 10, rateSeconds: 1, jobsSeconds: 1, churnSeconds: 1,
      flatDeliveries: 400, flatMaxSeconds: 2, workers: 1, rateMaxSubscribers: 1000, everyday: [20], everydaySeconds: 1, compression: [20],
    }
  : {
      fanoutWs: [1000, 5000, 15000], fanoutHttp: [1000, 5000], fanoutH2: [1000, 5000], fanoutPoll: [1000], jobs: [1000, 10000], jobsSmall: [1000], idle: [5000],
      churnClients: 1000, churnRate: 10, rateSeconds: 1.5, jobsSeconds: 1.5, churnSeconds: 2,
      flatDeliveries: 250_000, flatMaxSeconds: 3, workers: 2, rateMaxSubscribers: 5000, everyday: [1000, 5000], everydaySeconds: 5, compression: [1000],
    }
if (values.subscribers) opts.fanoutWs = opts.fanoutHttp = opts.fanoutH2 = opts.fanoutPoll = nums(values.subscribers)!
if (values.jobs) opts.jobs = opts.jobsSmall = nums(values.jobs)!
if (values.idle) opts.idle = nums(values.idle)!
if (values.everyday) opts.everyday = nums(values.everyday)!
if (values.compression) opts.compression = nums(values.compression)!
if (values['everyday-seconds']) opts.everydaySeconds = Number(values['everyday-seconds'])

const scenarios = (positionals.length ? positionals : [...SCENARIOS]) as Scenario[]
for (const s of scenarios) if (!SCENARIOS.includes(s)) throw new Error(`unknown scenario ${s}; known: ${SCENARIOS.join(', ')}`)
const serverNames = list(values.servers) ?? Object.keys(SERVERS)
for (const s of serverNames) if (!SERVERS[s]) throw new Error(`unknown server ${s}; known: ${Object.keys(SERVERS).join(', ')}`)
const wanted = (list(values.transports) ?? ALL_TRANSPORTS) as BenchTransport[]
const repeats = Number(values.repeats ?? (smoke ? 1 : 2))
const jobsRepeats = Number(values['jobs-repeats'] ?? 1)
const h2Repeats = Number(values['h2-repeats'] ?? 1)

/** The Markdown report, its plots next to it (<report>-latency.svg, …), and the soak's section kept as it was (its own run's). */
function writeReport(path: string, input: ReportInput): void {
  const base = path.replace(/\.md$/, '')
  const plots = renderPlots(input.rows).map(([suffix, svg]) => {
    writeFileSync(`${base}-${suffix}.svg`, svg)
    return `${basename(base)}-${suffix}.svg`
  })
  const manyFile = `${dirname(path)}/benchmarks-many.json`
  const many = existsSync(manyFile) ? (JSON.parse(readFileSync(manyFile, 'utf8')) as ManySaved) : undefined
  writeFileSync(path, withSoakSection(renderReport(input, plots, many), existsSync(path) ? soakSection(readFileSync(path, 'utf8')) : undefined))
}

// Ctrl-C or a kill: exit normally so the servers and driver processes started are stopped too.
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130))

if (values['from-json']) {
  // Re-render only (e.g. after editing bench/report-notes.md): same tables, same figures.
  // JSON turned NaN ("not measured") into null: turn it back.
  const saved = JSON.parse(readFileSync(values['from-json'], 'utf8'), (_k, v: unknown) => (v === null ? NaN : v)) as ReportInput
  writeReport(values.report ?? 'docs/benchmarks.md', saved)
  process.exit(0)
}

const log = (s: string) => process.stdout.write(`${s.startsWith('  ') ? `[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s]${s}` : s}\n`)
const skipped: string[] = []
const started = Date.now()
const steal0 = cpuSample()
log(sizeLine(await buildClient()))

const servers: ServerAdapter[] = []
for (const name of serverNames) {
  const why = await SERVERS[name].prepare()
  if (why) skipped.push(`${name}: ${why}`)
  else servers.push(SERVERS[name])
}

/** Which (server, transport) pairs a scenario runs in repeat `rep`. */
function pairs(scenario: Scenario, rep: number): [ServerAdapter, BenchTransport][] {
  const out: [ServerAdapter, BenchTransport][] = []
  for (const t of wanted) {
    const { base, h2 } = splitTransport(t)
    if (scenario === 'churn' && base !== 'long-poll') continue
    // Compression is a WebSocket extension; the peers negotiate it over HTTP/1.1 only.
    if (scenario === 'compression' && t !== 'ws') continue
    // The everyday rate is about WebSocket and SSE (over HTTP/2 too when asked for by name).
    if (scenario === 'everyday' && (base !== 'ws' && base !== 'sse' || (h2 && !values.transports))) continue
    if (h2 && rep > h2Repeats) continue
    // Idle over HTTP/2: WebSocket and SSE (NDJSON and long polls hold the same h2 stream per connection).
    if (scenario === 'idle' && h2 && (base === 'ndjson' || base === 'long-poll')) continue
    for (const srv of servers) {
      if (srv.transports().includes(t)) out.push([srv, t])
    }
  }
  return out
}
for (const t of wanted) {
  if (!herald.transports().includes(t) && serverNames.includes('herald')) skipped.push(`herald ${t}: not yet available (no src/transport module for it)`)
}
for (const srv of servers) {
  if (srv.name !== 'herald') for (const t of wanted) if (!srv.transports().includes(t)) skipped.push(`${srv.name} ${t}: the peer has no such transport`)
}

/** Sizes per scenario and transport: HTTP/2 and long polling run the smaller sizes (see Options). */
function fanoutSizes(t: BenchTransport): number[] {
  const { base, h2 } = splitTransport(t)
  if (base === 'long-poll') return opts.fanoutPoll
  if (h2) return base === 'ndjson' ? opts.fanoutH2.slice(0, 1) : opts.fanoutH2
  return base === 'ws' ? opts.fanoutWs : opts.fanoutHttp
}
const jobsSizes = (t: BenchTransport) => (t === 'ws' || t === 'sse' || t === 'ndjson' ? opts.jobs : opts.jobsSmall)

const rows: Row[] = []
for (let rep = 1; rep <= repeats; rep++) {
  for (const scenario of scenarios) {
    if (scenario === 'jobs' && rep > jobsRepeats) continue
    log(`\n== ${scenario}, run ${rep}/${scenario === 'jobs' ? Math.min(repeats, jobsRepeats) : repeats} (${((Date.now() - started) / 1000).toFixed(0)} s elapsed)`)
    for (const [srv, t] of pairs(scenario, rep)) {
      try {
        if (scenario === 'fanout') rows.push(...(await fanout(srv, t, fanoutSizes(t), opts, log)))
        if (scenario === 'compression') rows.push(...(await compression(srv, t, opts.compression, opts, log)))
        if (scenario === 'everyday') rows.push(...(await everyday(srv, t, opts.everyday, opts, log)))
        if (scenario === 'jobs') rows.push(...(await jobs(srv, t, jobsSizes(t), opts, log)))
        if (scenario === 'idle') rows.push(...(await idle(srv, t, opts.idle, opts, log)))
        if (scenario === 'churn') rows.push(...(await churn(srv, t, opts, log)))
      } catch (err) {
        const msg = `${srv.name}/${t} ${scenario} run ${rep} failed: ${(err as Error).message}`
        log(`  ${msg}`)
        skipped.push(msg)
      }
    }
  }
}

// The jobs cost budget: one more Herald jobs run under the CPU profiler (WebSocket, the smallest size).
const heraldSrv = servers.find((srv) => srv.name === 'herald')
if (scenarios.includes('jobs') && heraldSrv && wanted.includes('ws')) {
  log('\n== jobs cost budget (Herald under --cpu-prof)')
  try {
    rows.push(await jobsBudget(heraldSrv, 'ws', opts.jobs[0]!, opts, log))
  } catch (err) {
    skipped.push(`herald/ws jobs cost budget failed: ${(err as Error).message}`)
  }
}

const elapsed = (Date.now() - started) / 1000
const steal = stealPercent(steal0, cpuSample())
const tables = renderTables(rows)
log(`\n${tables}`)
if (skipped.length) log(`Skipped or failed:\n${skipped.map((s) => `- ${s}`).join('\n')}\n`)
log(`Whole run: ${elapsed.toFixed(0)} s, host steal ${steal.toFixed(1)}% of all CPU time.`)
if (values.report) {
  const input = { rows, skipped, elapsedSec: elapsed, stealPct: steal, argv: process.argv.slice(2), repeats, jobsRepeats: Math.min(repeats, jobsRepeats), h2Repeats: Math.min(repeats, h2Repeats), opts, finishedAt: new Date().toISOString(), machine: machine(), machineShort: shortMachine() }
  writeFileSync(values.report.replace(/\.md$/, '') + '.json', JSON.stringify(input))
  writeReport(values.report, input)
  log(`Report written to ${values.report}`)
}
process.exit(0)
