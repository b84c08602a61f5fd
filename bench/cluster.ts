// `npm run bench -- cluster [--subscribers 1000,5000] [--jobs 1000] [--repeats 1] [--shapes …]
// [--report docs/benchmarks-cluster.md]`: Herald on the memory, Redis and NATS brokers (one node),
// three nodes on one broker (clients spread over them, the publisher on the first), and one port
// served by `--workers 2`, with the same driver and workloads as `npm run bench`: WebSocket fan-out
// (10 msg/s for latency, then flat out) and jobs (K streams, 10 msg/s each); then each broker's
// publish throughput and round trips per publication. Uses the Redis and NATS that `npm test`
// uses, under a prefix of its own, removed at the end. Not part of CI.
import os from 'node:os'
import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { measureBrokers, type BrokerFigures } from './brokers.js'
import { cpuSample, stealPercent } from './lib/proc.js'
import type { Figures } from './lib/stats.js'
import { machine } from './report.js'
import { fanout, jobs, type Options, type Row } from './scenarios.js'
import { heraldCluster, type ClusterShape } from './servers/herald-cluster.js'

const SHAPES: ClusterShape[] = [
  { name: 'memory ×1', broker: 'memory', nodes: 1, workers: 1 },
  { name: 'redis ×1', broker: 'redis', nodes: 1, workers: 1 },
  { name: 'nats ×1', broker: 'nats', nodes: 1, workers: 1 },
  { name: 'redis ×3 nodes', broker: 'redis', nodes: 3, workers: 1 },
  { name: 'nats ×3 nodes', broker: 'nats', nodes: 3, workers: 1 },
  { name: 'redis --workers 2', broker: 'redis', nodes: 1, workers: 2 },
]

const { values } = parseArgs({
  args: process.argv.slice(3),
  options: {
    subscribers: { type: 'string' },
    jobs: { type: 'string' },
    repeats: { type: 'string' },
    shapes: { type: 'string' },
    report: { type: 'string' },
  },
})
const nums = (s: string | undefined, d: number[]) => (s ? s.split(',').map(Number) : d)
const sizes = nums(values.subscribers, [1000, 5000])
const jobSizes = nums(values.jobs, [1000])
const repeats = Number(values.repeats ?? 1)
const wantedShapes = values.shapes ? SHAPES.filter((s) => values.shapes!.split(',').some((w) => s.name.startsWith(w.trim()))) : SHAPES
const opts: Options = {
  fanoutWs: sizes, fanoutHttp: sizes, fanoutH2: sizes, fanoutPoll: sizes, jobs: jobSizes, jobsSmall: jobSizes, idle: [],
  churnClients: 0, churnRate: 0, rateSeconds: 1.5, jobsSeconds: 1.5, churnSeconds: 0, everyday: [], everydaySeconds: 0, compression: [],
  flatDeliveries: 250_000, flatMaxSeconds: 3, workers: 2, rateMaxSubscribers: 5000,
}

const started = Date.now()
const log = (s: string) => process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s]${s}\n`)
const steal0 = cpuSample()
const rows: Row[] = []
for (let rep = 1; rep <= repeats; rep++) {
  for (const shape of wantedShapes) {
    const adapter = heraldCluster(shape)
    const why = await adapter.prepare()
    if (why) throw new Error(why)
    try {
      rows.push(...(await fanout(adapter, 'ws', sizes, opts, log)))
      rows.push(...(await jobs(adapter, 'ws', jobSizes, opts, log)))
    } catch (err) {
      log(`  ${shape.name} run ${rep} failed: ${(err as Error).message}`)
    }
  }
}
log('  brokers: publish throughput and round trips')
const brokers = await measureBrokers(['memory', 'redis', 'nats'])
const steal = stealPercent(steal0, cpuSample())

/** The median of a figure over the repeats of one (server, scenario, size, phase). */
function median(server: string, scenario: Row['scenario'], size: number, phase: string, pick: (f: Figures) => number): number {
  const xs = rows.filter((r) => r.server === server && r.scenario === scenario && r.size === size && r.phase === phase && r.figures)
    .map((r) => pick(r.figures!)).sort((a, b) => a - b)
  return xs.length === 0 ? NaN : xs[Math.floor((xs.length - 1) / 2)]
}
const lossOf = (server: string, scenario: Row['scenario'], size: number, phase: string) => {
  const rs = rows.filter((r) => r.server === server && r.scenario === scenario && r.size === size && r.phase === phase && r.figures)
  if (rs.length === 0) return 'not measured'
  return `${rs.reduce((a, r) => a + r.figures!.lost, 0)}/${rs.reduce((a, r) => a + r.figures!.dup, 0)}/${rs.reduce((a, r) => a + r.figures!.reorder, 0)}`
}
const k = (n: number) => (Number.isNaN(n) ? '—' : n >= 10_000 ? `${Math.round(n / 1000)}k` : String(Math.round(n)))
const f2 = (n: number) => (Number.isNaN(n) ? '—' : n.toFixed(2))
const f1 = (n: number) => (Number.isNaN(n) ? '—' : n.toFixed(1))
const ratio = (a: number, b: number) => (Number.isNaN(a) || Number.isNaN(b) || b === 0 ? '—' : `${(a / b).toFixed(2)}×`)
const table = (head: string[], body: string[][]) => [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...body.map((r) => `| ${r.join(' | ')} |`)].join('\n')

const base = 'memory ×1'
const fanRows: string[][] = []
for (const N of sizes) {
  for (const shape of wantedShapes) {
    const flat = median(shape.name, 'fanout', N, 'flat out', (f) => f.deliveriesPerSec)
    const note = rows.find((r) => r.server === shape.name && r.scenario === 'fanout' && r.size === N && r.note)?.note ?? ''
    fanRows.push([String(N), shape.name, k(flat), ratio(flat, median(base, 'fanout', N, 'flat out', (f) => f.deliveriesPerSec)),
      f2(median(shape.name, 'fanout', N, 'flat out', (f) => f.cpuPerDeliveryUs)),
      f1(median(shape.name, 'fanout', N, '10 msg/s', (f) => f.p50)), f1(median(shape.name, 'fanout', N, '10 msg/s', (f) => f.p99)),
      f1(median(shape.name, 'fanout', N, 'flat out', (f) => f.p99)),
      `${lossOf(shape.name, 'fanout', N, '10 msg/s')} · ${lossOf(shape.name, 'fanout', N, 'flat out')}`, note])
  }
}
const jobRows: string[][] = []
for (const K of jobSizes) {
  for (const shape of wantedShapes) {
    const d = median(shape.name, 'jobs', K, '10/s each', (f) => f.deliveriesPerSec)
    jobRows.push([String(K), shape.name, k(d), k(median(shape.name, 'jobs', K, '10/s each', (f) => f.publishPerSec)),
      f1(median(shape.name, 'jobs', K, '10/s each', (f) => f.cpuPerDeliveryUs)),
      f1(median(shape.name, 'jobs', K, '10/s each', (f) => f.p50)), f1(median(shape.name, 'jobs', K, '10/s each', (f) => f.p99)),
      lossOf(shape.name, 'jobs', K, '10/s each')])
  }
}
const brokerRows = brokers.map((b: BrokerFigures) => [b.kind, Math.round(b.oneStream).toLocaleString('en'), Math.round(b.manyStreams).toLocaleString('en'), `${b.roundTripsOne.toFixed(2)} / ${b.roundTripsMany.toFixed(2)}`])

// The issue's targets, from the largest fan-out size.
const N = Math.max(...sizes)
const flatOf = (s: string) => median(s, 'fanout', N, 'flat out', (f) => f.deliveriesPerSec)
const lossFree = rows.filter((r) => r.figures).every((r) => r.figures!.lost === 0 && r.figures!.dup === 0 && r.figures!.reorder === 0)
const verdict = (ok: boolean) => (ok ? 'met' : '**not met**')
const redisRatio = flatOf('redis ×1') / flatOf(base)
const threeRatio = flatOf('redis ×3 nodes') / flatOf('redis ×1')
const targets = table(['target', 'measured', ''], [
  [`Redis-backed node ≥ 0.8× the memory node's deliveries/s at ${N}`, ratio(flatOf('redis ×1'), flatOf(base)), verdict(redisRatio >= 0.8)],
  // Three nodes can only scale with a core each: with fewer cores than nodes + driver + broker the
  // row measures how they share the cores, which the verdict says rather than hides.
  ['3 nodes on Redis ≥ 2× one Redis node', ratio(flatOf('redis ×3 nodes'), flatOf('redis ×1')), `${verdict(threeRatio >= 2)}${threeRatio < 2 && os.cpus().length < 5 ? ` (${os.cpus().length} cores for 3 nodes, the driver and Redis: see cluster.md)` : ''}`],
  ['zero loss, duplicates and reorders in every row', lossFree ? 'none' : 'see the tables', verdict(lossFree)],
])

const report = `# Cluster benchmarks

Generated by \`npm run bench -- cluster ${process.argv.slice(3).join(' ')}\`; measured ${new Date().toISOString().replace('T', ' ').slice(0, 16)} UTC
in ${((Date.now() - started) / 1000).toFixed(0)} s, ${repeats} run(s) per shape (medians), host steal ${steal.toFixed(1)}%. Do not edit by hand:
run it again. How to run a cluster and what it guarantees: [cluster.md](cluster.md).

${machine().split("\n").slice(0, 2).join("\n")}
- Redis and NATS are the loopback servers \`npm test\` uses; their own CPU is **not** in Herald's CPU per delivery.

Every shape serves the same WebSocket clients (Action Cable JSON, public streams). Several nodes:
clients are spread over the nodes round robin and the publisher posts to the first, so every
delivery on the other nodes went through the broker. \`--workers 2\`: one port, two processes.
The driver runs on the same two cores as every Herald process and the broker, so a shape with
more processes than cores measures sharing, not scaling.

## Targets (issue #10)

${targets}

## Fan-out: N subscribers on one stream, 100 B messages

Throughput flat out (a small window of messages in flight); latency at 10 msg/s. Ratio = row ÷ memory ×1.
lost/dup/reorder: 10 msg/s phase · flat-out phase.

${table(['N', 'shape', 'deliveries/s flat out', '÷ memory ×1', 'Herald CPU µs/delivery', 'p50 ms @10/s', 'p99 ms @10/s', 'p99 ms flat', 'lost/dup/reorder', 'note'], fanRows)}

## Jobs: K subscribers, each on its own stream, each stream published 10 times a second

${table(['K', 'shape', 'deliveries/s', 'published/s', 'Herald CPU µs/delivery', 'p50 ms', 'p99 ms', 'lost/dup/reorder'], jobRows)}

## Brokers alone: publish throughput and round trips per publication

One stream (64 publications in flight), then 1,000 streams round robin (256 in flight), straight on
the broker classes (no HTTP). Round trips are counted by the brokers themselves.

${table(['broker', 'one stream (pub/s)', '1,000 streams (pub/s)', 'round trips per publication (one / 1,000)'], brokerRows)}
`
process.stdout.write(`\n${report}`)
if (values.report) {
  writeFileSync(values.report, report)
  writeFileSync(values.report.replace(/\.md$/, '.json'), JSON.stringify({ rows, brokers, steal, finishedAt: new Date().toISOString() }, null, 1))
}
process.exit(0)
