import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import os from 'node:os'
import type { Options, Row } from './scenarios.js'
import { figs, find, groups, type Group } from './lib/groups.js'
import { fmt, median, range, type Figures } from './lib/stats.js'
import { renderSummary, type ManySaved } from './report-summary.js'

const errs = (gs: (Group | undefined)[]) => {
  let lost = 0, dup = 0, reorder = 0, ended = 0
  for (const g of gs) for (const r of g?.runs ?? []) {
    lost += r.figures?.lost ?? 0
    dup += r.figures?.dup ?? 0
    reorder += r.figures?.reorder ?? 0
    ended += r.figures?.ended ?? 0
  }
  return `${lost}/${dup}/${reorder}${ended ? ` (${ended} closed)` : ''}`
}
/** A row's notes, plus any publish request the server refused (those messages were never published). */
const notes = (gs: (Group | undefined)[]) => [...new Set(gs.flatMap((g) => g?.runs.flatMap((r) => [r.note, r.figures?.publishErrors ? `${r.figures.publishErrors} publish requests refused` : undefined]).filter(Boolean) ?? []))].join('; ')
const ratio = (herald: number[], row: number[]) => (herald.length && row.length ? `${(median(herald) / median(row)).toFixed(2)}×` : '–')
const ms = (xs: number[]) => range(xs, 3)
const driver = (g: Group | undefined) => `${range(figs(g, 'driverCpuPct'), 2)} / ${range(figs(g, 'driverMaxPct'), 2)}`

function table(head: string[], body: string[][]): string {
  return [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...body.map((r) => `| ${r.join(' | ')} |`)].join('\n')
}


/** Rows of one scenario, one per (transport, size, server), with a ratio column against Herald. */
export function renderTables(rows: Row[]): string {
  const all = groups(rows)
  const keys = (scenario: string) => [...new Map(all.filter((g) => g.scenario === scenario).map((g) => [`${g.transport}|${g.size}|${g.server}`, g])).values()]
  const out: string[] = []

  const fan = keys('fanout')
  if (fan.length) {
    out.push('### Fan-out: N subscribers on one stream, 100 B messages\n')
    out.push('Throughput is the flat-out phase (publisher kept a small window of messages in flight); latency is the 10 msg/s phase unless marked flat. Ratio = Herald ÷ row (deliveries/s). Driver CPU = all driver processes together / the busiest one, % of one core.\n')
    out.push(table(
      ['transport', 'N', 'server', 'deliveries/s flat out', 'Herald ÷ row', 'server CPU µs/delivery', 'row ÷ Herald (CPU/delivery)', 'p50 ms @10/s', 'p95 ms @10/s', 'p99 ms @10/s', 'max ms @10/s', 'p99 ms flat', 'lost/dup/reorder', 'driver CPU %', 'steal %', 'note'],
      fan.map((k) => {
        const flat = find(all, 'fanout', k.transport, k.size, k.server, 'flat out')
        const slow = find(all, 'fanout', k.transport, k.size, k.server, '10 msg/s')
        const h = find(all, 'fanout', k.transport, k.size, 'herald', 'flat out')
        return [k.transport, String(k.size), k.server, range(figs(flat, 'deliveriesPerSec')), ratio(figs(h, 'deliveriesPerSec'), figs(flat, 'deliveriesPerSec')),
          range(figs(flat, 'cpuPerDeliveryUs')), ratio(figs(flat, 'cpuPerDeliveryUs'), figs(h, 'cpuPerDeliveryUs')), ms(figs(slow, 'p50')), ms(figs(slow, 'p95')), ms(figs(slow, 'p99')), ms(figs(slow, 'max')), ms(figs(flat, 'p99')),
          errs([flat, slow]), driver(flat), range([...figs(flat, 'stealPct'), ...figs(slow, 'stealPct')], 2), notes([flat, slow])]
      }),
    ))
  }

  const day = keys('everyday')
  if (day.length) {
    out.push('\n### Everyday rate: N subscribers on one stream, 10 messages/s, 100 B messages\n')
    out.push('One write per message per socket: nothing to batch. Latency is publish-to-receive. Ratio = row ÷ Herald (server CPU per delivery; above 1× Herald costs less).\n')
    out.push(table(
      ['transport', 'N', 'server', 'server CPU µs/delivery', 'row ÷ Herald (CPU/delivery)', 'p50 ms', 'p99 ms', 'row p50 ÷ Herald p50', 'max ms', 'lost/dup/reorder', 'driver CPU %', 'steal %', 'note'],
      day.map((k) => {
        const g = find(all, 'everyday', k.transport, k.size, k.server, '10 msg/s')
        const h = find(all, 'everyday', k.transport, k.size, 'herald', '10 msg/s')
        return [k.transport, String(k.size), k.server, range(figs(g, 'cpuPerDeliveryUs')), ratio(figs(g, 'cpuPerDeliveryUs'), figs(h, 'cpuPerDeliveryUs')),
          ms(figs(g, 'p50')), ms(figs(g, 'p99')), ratio(figs(g, 'p50'), figs(h, 'p50')), ms(figs(g, 'max')), errs([g]), driver(g), range(figs(g, 'stealPct'), 2), notes([g])]
      }),
    ))
  }

  const cmp = keys('compression')
  if (cmp.length) {
    out.push('\n### Compression: N WebSocket subscribers, JSON progress events (~330 B), permessage-deflate on and off\n')
    out.push('Herald compresses each broadcast once (`--ws-compression`), against the previous broadcast of the stream for the clients that had it last; ws and Socket.IO compress per socket (threshold 0). The driver offers Chromium\'s `permessage-deflate; client_max_window_bits`. Bytes = what the server wrote (all sockets) per delivery; "÷ plain" = deflate bytes over the same server\'s uncompressed bytes. Ratio = row ÷ Herald (deflate, server CPU per delivery). Flat out, deliveries/s is bounded by the driver, which inflates every message of every connection (see its CPU); the CPU per delivery at 10 msg/s is the comparison.\n')
    const rowsOf = [...new Map(cmp.map((k) => [`${k.transport}|${k.size}|${k.server}`, k])).values()]
    out.push(table(
      ['transport', 'N', 'server', 'mode', 'bytes/delivery', '÷ plain', 'server CPU µs/delivery @10/s', 'row ÷ Herald', 'server CPU µs/delivery flat', 'row ÷ Herald (flat)', 'deliveries/s flat', 'driver CPU % flat', 'p50 ms @10/s', 'p99 ms @10/s', 'lost/dup/reorder', 'steal %', 'note'],
      rowsOf.flatMap((k) => (['deflate', 'plain'] as const).map((mode) => {
        const slow = find(all, 'compression', k.transport, k.size, k.server, `${mode} 10 msg/s`)
        const flat = find(all, 'compression', k.transport, k.size, k.server, `${mode} flat out`)
        const plain = find(all, 'compression', k.transport, k.size, k.server, 'plain 10 msg/s')
        const hs = find(all, 'compression', k.transport, k.size, 'herald', `${mode} 10 msg/s`)
        const hf = find(all, 'compression', k.transport, k.size, 'herald', `${mode} flat out`)
        return [k.transport, String(k.size), k.server, mode, range(figs(slow, 'wireBytesPerDelivery')), ratio(figs(slow, 'wireBytesPerDelivery'), figs(plain, 'wireBytesPerDelivery')),
          range(figs(slow, 'cpuPerDeliveryUs')), ratio(figs(slow, 'cpuPerDeliveryUs'), figs(hs, 'cpuPerDeliveryUs')), range(figs(flat, 'cpuPerDeliveryUs')), ratio(figs(flat, 'cpuPerDeliveryUs'), figs(hf, 'cpuPerDeliveryUs')),
          range(figs(flat, 'deliveriesPerSec')), driver(flat), ms(figs(slow, 'p50')), ms(figs(slow, 'p99')), errs([slow, flat]), range([...figs(slow, 'stealPct'), ...figs(flat, 'stealPct')], 2), notes([slow, flat])]
      })),
    ))
  }

  const job = keys('jobs')
  if (job.length) {
    out.push('\n### Jobs: K subscribers, each on its own stream, each stream published 10 times a second\n')
    out.push('Offered load is 10·K messages/s; "published/s" is what the publisher got accepted. Ratio = Herald ÷ row (deliveries/s).\n')
    out.push(table(
      ['transport', 'K', 'server', 'deliveries/s', 'Herald ÷ row', 'published/s', 'server CPU µs/delivery', 'writes/delivery', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'lost/dup/reorder', 'driver CPU %', 'steal %', 'note'],
      job.map((k) => {
        const g = find(all, 'jobs', k.transport, k.size, k.server, '10/s each')
        const h = find(all, 'jobs', k.transport, k.size, 'herald', '10/s each')
        return [k.transport, String(k.size), k.server, range(figs(g, 'deliveriesPerSec')), ratio(figs(h, 'deliveriesPerSec'), figs(g, 'deliveriesPerSec')), range(figs(g, 'publishPerSec')),
          range(figs(g, 'cpuPerDeliveryUs')), range(figs(g, 'writesPerDelivery')), ms(figs(g, 'p50')), ms(figs(g, 'p95')), ms(figs(g, 'p99')), ms(figs(g, 'max')), errs([g]), driver(g), range(figs(g, 'stealPct'), 2), notes([g])]
      }),
    ))
  }

  const budgets = rows.filter((r) => r.scenario === 'jobs' && r.budget)
  for (const b of budgets) {
    const steps = Object.entries(b.budget!)
    const total = steps.reduce((a, [, v]) => a + v, 0)
    out.push(`\n#### Cost budget per publication: ${b.server}, ${b.transport}, K=${b.size} (a run of its own under \`--cpu-prof\`)\n`)
    out.push(`Server CPU of the measured phase from V8's profile, each sample charged to the innermost step of the publish path on its stack (\`bench/lib/cost-budget.ts\`), divided by the ${fmt(b.figures?.published ?? NaN)} publications. Each publication here is one delivery. The profiler itself adds a few percent; the unprofiled figure is the table above. V8 samples the main thread's wall time: a \`write\` that wakes the reader is also charged for the time the kernel gave other processes before returning, so on a busy machine the socket steps read high.\n`)
    out.push(table(['step', 'µs per publication', 'share'], [
      ...steps.map(([k, v]) => [k, v.toFixed(2), `${((100 * v) / total).toFixed(0)}%`]),
      ['**total**', `**${total.toFixed(2)}**`, '100%'],
    ]))
  }

  const idl = keys('idle')
  if (idl.length) {
    out.push('\n### Idle: N connections, each subscribed to its own stream\n')
    out.push('Server RSS and heap (after a full GC, Node servers) per connection = growth from N/5 to N connections, divided by 4N/5; connect rate = 4N/5 / time until the server counted all N subscriptions. "RSS at N/5" is the baseline. Ratio = Herald ÷ row (RSS per connection; lower is better for Herald).\n')
    out.push(table(
      ['transport', 'N', 'server', 'RSS KiB/conn', 'Herald ÷ row', 'heap KiB/conn', 'connects/s', 'RSS at N/5 MiB', 'note'],
      idl.map((k) => {
        const g = find(all, 'idle', k.transport, k.size, k.server, 'idle')
        const h = find(all, 'idle', k.transport, k.size, 'herald', 'idle')
        const v = (gg: Group | undefined, f: (i: NonNullable<Row['idle']>) => number) => gg?.runs.map((r) => (r.idle ? f(r.idle) : NaN)) ?? []
        return [k.transport, String(k.size), k.server, range(v(g, (i) => i.rssPerConn / 1024)), ratio(v(h, (i) => i.rssPerConn), v(g, (i) => i.rssPerConn)),
          range(v(g, (i) => i.heapPerConn / 1024)), range(v(g, (i) => i.connectPerSec)), range(v(g, (i) => i.rssBase / 2 ** 20)), notes([g])]
      }),
    ))
  }

  const ch = keys('churn')
  if (ch.length) {
    out.push('\n### Long-poll churn: N clients on one stream re-poll after every answer, a trickle of messages\n')
    out.push('Ratio = Herald ÷ row (server CPU per delivered message; lower is better for Herald).\n')
    out.push(table(
      ['transport', 'N', 'server', 'requests/s', 'deliveries/s', 'server CPU µs/delivery', 'Herald ÷ row', 'server CPU %', 'p50 ms', 'p99 ms', 'lost/dup/reorder', 'driver CPU %', 'steal %', 'note'],
      ch.map((k) => {
        const g = all.find((x) => x.scenario === 'churn' && x.transport === k.transport && x.size === k.size && x.server === k.server)
        const h = all.find((x) => x.scenario === 'churn' && x.transport === k.transport && x.size === k.size && x.server === 'herald')
        return [k.transport, String(k.size), k.server, range(figs(g, 'requestsPerSec')), range(figs(g, 'deliveriesPerSec')), range(figs(g, 'cpuPerDeliveryUs')),
          ratio(figs(h, 'cpuPerDeliveryUs'), figs(g, 'cpuPerDeliveryUs')), range(figs(g, 'serverCpuPct')), ms(figs(g, 'p50')), ms(figs(g, 'p99')), errs([g]), driver(g), range(figs(g, 'stealPct'), 2), notes([g])]
      }),
    ))
  }
  return `${out.join('\n')}\n`
}

/** The issue's targets, each checked against the medians of this run. */
export function renderTargets(rows: Row[]): string {
  const all = groups(rows)
  const med = (g: Group | undefined, k: keyof Figures) => median(figs(g, k))
  const lines: string[] = []
  const verdict = (ok: boolean | undefined) => (ok === undefined ? 'not measured' : ok ? 'met' : '**MISSED**')
  const flat = (t: string, n: number, s: string) => find(all, 'fanout', t, n, s, 'flat out')
  const slow = (t: string, n: number, s: string) => find(all, 'fanout', t, n, s, '10 msg/s')
  const cmp = (a: number, b: number, f: number) => (Number.isFinite(a) && Number.isFinite(b) ? a >= f * b : undefined)

  const hw = med(flat('ws', 5000, 'herald'), 'deliveriesPerSec')
  for (const [peer, f] of [['ws', 0.9], ['socket.io', 5], ['nchan', 1]] as const) {
    const p = med(flat('ws', 5000, peer), 'deliveriesPerSec')
    lines.push(`| WebSocket fan-out deliveries/s at 5k ≥ ${f}× ${peer} | ${fmt(hw)} vs ${fmt(p)} (${Number.isFinite(p) ? (hw / p).toFixed(2) : '–'}×) | ${verdict(cmp(hw, p, f))} |`)
  }
  // The stable figure when the driver saturates (see "How to read"): work per delivery, same targets.
  const hc = med(flat('ws', 5000, 'herald'), 'cpuPerDeliveryUs')
  for (const [peer, f] of [['ws', 0.9], ['socket.io', 5], ['nchan', 1]] as const) {
    const p = med(flat('ws', 5000, peer), 'cpuPerDeliveryUs')
    lines.push(`| (same, by server CPU per delivery at 5k: ${peer} ÷ Herald ≥ ${f}) | ${fmt(p)} vs ${fmt(hc)} µs (${Number.isFinite(p) ? (p / hc).toFixed(2) : '–'}×) | ${verdict(Number.isFinite(p) && Number.isFinite(hc) ? p / hc >= f : undefined)} |`)
  }
  // Over HTTP/2 the same comparisons, where the peer has the transport (Nchan: SSE and long-poll on h2c; raw ws: RFC 8441).
  for (const [peer, f] of [['ws', 0.9]] as const) {
    const h = med(flat('ws-h2', 5000, 'herald'), 'deliveriesPerSec'), p = med(flat('ws-h2', 5000, peer), 'deliveriesPerSec')
    if (Number.isFinite(h) || Number.isFinite(p)) lines.push(`| WebSocket over HTTP/2 fan-out deliveries/s at 5k ≥ ${f}× ${peer} over HTTP/2 | ${fmt(h)} vs ${fmt(p)} (${Number.isFinite(p) ? (h / p).toFixed(2) : '–'}×) | ${verdict(cmp(h, p, f))} |`)
  }
  for (const t of ['sse', 'long-poll', 'sse-h2', 'long-poll-h2']) {
    for (const n of [1000, 5000]) {
      const h = flat(t, n, 'herald')
      const c = flat(t, n, 'nchan')
      if (!h && !c) continue
      const hd = med(h, 'deliveriesPerSec'), nd = med(c, 'deliveriesPerSec')
      const hp = med(slow(t, n, 'herald'), 'p99'), np = med(slow(t, n, 'nchan'), 'p99')
      const ok = Number.isFinite(hd) && Number.isFinite(nd) ? hd >= nd && hp <= np : undefined
      lines.push(`| ${t} fan-out at ${n}: deliveries/s ≥ Nchan's at ≤ p99 | ${fmt(hd)} vs ${fmt(nd)} deliveries/s; p99 ${fmt(hp)} vs ${fmt(np)} ms | ${verdict(ok)} |`)
    }
  }
  const idleOf = (t: string, s: string) => all.filter((g) => g.scenario === 'idle' && g.transport === t && g.server === s).flatMap((g) => g.runs.map((r) => r.idle?.rssPerConn ?? NaN))
  const hwI = median(idleOf('ws', 'herald')), wsI = median(idleOf('ws', 'ws'))
  lines.push(`| Idle RSS per WebSocket ≤ 1.25× raw ws | ${fmt(hwI / 1024)} vs ${fmt(wsI / 1024)} KiB (${(hwI / wsI).toFixed(2)}×) | ${verdict(Number.isFinite(hwI) && Number.isFinite(wsI) ? hwI <= 1.25 * wsI : undefined)} |`)
  lines.push(`| Idle RSS per WebSocket ≤ 8 KiB | ${fmt(hwI / 1024)} KiB | ${verdict(Number.isFinite(hwI) ? hwI <= 8192 : undefined)} |`)
  // RSS per connection depends on what malloc and V8 already hold; the heap after a full GC does not.
  const heapOf = (t: string, s: string) => all.filter((g) => g.scenario === 'idle' && g.transport === t && g.server === s).flatMap((g) => g.runs.map((r) => r.idle?.heapPerConn ?? NaN))
  const hwH = median(heapOf('ws', 'herald')), wsH = median(heapOf('ws', 'ws'))
  lines.push(`| (same, by heap after GC: ≤ 1.25× raw ws) | ${fmt(hwH / 1024)} vs ${fmt(wsH / 1024)} KiB (${(hwH / wsH).toFixed(2)}×) | ${verdict(Number.isFinite(hwH) && Number.isFinite(wsH) ? hwH <= 1.25 * wsH : undefined)} |`)
  const hsI = median(idleOf('sse', 'herald'))
  lines.push(`| Idle RSS per SSE connection ≤ 16 KiB | ${fmt(hsI / 1024)} KiB | ${verdict(Number.isFinite(hsI) ? hsI <= 16384 : undefined)} |`)
  for (const t of ['ws', 'sse']) {
    const p = med(slow(t, 5000, 'herald'), 'p99')
    lines.push(`| p99 at 5k subscribers, 10 msg/s < 10 ms (${t}) | ${fmt(p)} ms | ${verdict(Number.isFinite(p) ? p < 10 : undefined)} |`)
  }
  const bad = rows.filter((r) => r.server === 'herald' && r.figures && (r.figures.lost || r.figures.dup || r.figures.reorder))
  const badPeers = rows.filter((r) => r.server !== 'herald' && r.figures && (r.figures.lost || r.figures.dup || r.figures.reorder))
  lines.push(`| Zero lost, duplicated or reordered (Herald, every scenario) | ${bad.length ? bad.map((r) => `${r.scenario} ${r.transport} N=${r.size} ${r.phase}: ${r.figures!.lost}/${r.figures!.dup}/${r.figures!.reorder}`).join('; ') : 'all zero'} | ${verdict(bad.length === 0)} |`)
  if (badPeers.length) lines.push(`| (peers, for information) | ${badPeers.map((r) => `${r.server} ${r.scenario} ${r.transport} N=${r.size} ${r.phase}: ${r.figures!.lost}/${r.figures!.dup}/${r.figures!.reorder}`).join('; ')} | |`)
  return ['| target | this run (medians) | verdict |', '| --- | --- | --- |', ...lines].join('\n')
}

function sh(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim()
  } catch (err) {
    return ((err as { stderr?: string }).stderr ?? '').trim() || 'unavailable'
  }
}

/** CPU and Node in one phrase, for the summary. */
export function shortMachine(): string {
  const cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU'
  return `${os.cpus().length} × ${cpu}, Node ${process.version}`
}

export function machine(): string {
  const cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown'
  const pkg = (name: string) => sh('dpkg-query', ['-W', '-f', '${Version}', name])
  const npmVersion = (name: string) => {
    try {
      return (JSON.parse(readFileSync(`node_modules/${name}/package.json`, 'utf8')) as { version: string }).version
    } catch {
      return 'missing'
    }
  }
  return [
    `- CPU: ${os.cpus().length} × ${cpu} (nproc ${sh('nproc', [])}); memory ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `- Kernel ${os.release()}; Node ${process.version}; open-file limit ${sh('sh', ['-c', 'ulimit -n'])}`,
    `- Peers: nginx ${pkg('nginx')} + libnginx-mod-nchan ${pkg('libnginx-mod-nchan')} (one worker); socket.io ${npmVersion('socket.io')}; ws ${npmVersion('ws')}`,
  ].join('\n')
}

export interface ReportInput {
  rows: Row[]
  skipped: string[]
  elapsedSec: number
  stealPct: number
  argv: string[]
  repeats: number
  jobsRepeats: number
  h2Repeats: number
  opts: Options
  /** ISO time the measurements finished. */
  finishedAt: string
  /** The machine that measured (machine() and shortMachine() at the end of the run): a re-render elsewhere must not show its own. */
  machine?: string
  machineShort?: string
}

/** docs/benchmarks.md: regenerated whole by `npm run bench -- --report docs/benchmarks.md`. */
export function renderReport(r: ReportInput, plots: string[] = [], many?: ManySaved): string {
  const notesFile = new URL('./report-notes.md', import.meta.url)
  const notesText = existsSync(notesFile) ? readFileSync(notesFile, 'utf8').trim() : ''
  const o = r.opts
  return `# Benchmarks

Generated by \`npm run bench -- ${r.argv.join(' ')}\`; measured ${r.finishedAt.replace('T', ' ').slice(0, 16)} UTC. Do not edit
by hand: the text after the tables comes from \`bench/report-notes.md\` (re-render with
\`npm run bench -- --from-json docs/benchmarks.json --report docs/benchmarks.md\`).

## Summary

${renderSummary({ rows: r.rows, stealPct: r.stealPct, elapsedSec: r.elapsedSec, machine: r.machineShort ?? 'machine not recorded', many }, plots)}
## Machine

${r.machine ?? '- not recorded in this run\'s JSON'}
- Host steal over the whole run: ${r.stealPct.toFixed(1)}% of all CPU time (from /proc/stat); per-phase steal is in the tables.
- Whole run: ${(r.elapsedSec / 60).toFixed(1)} minutes, ${r.repeats} repeat(s) (jobs: ${r.jobsRepeats}, its 10k connects dominate the time budget; the HTTP/2 variants: ${r.h2Repeats}), interleaved server by server (A B C D, A B C D).

## Workload

- Fan-out sizes: WebSocket ${o.fanoutWs.join(', ')}; SSE/NDJSON ${o.fanoutHttp.join(', ')}; WebSocket and SSE over HTTP/2 ${o.fanoutH2.join(', ')} (NDJSON over HTTP/2 ${o.fanoutH2[0]}); long-poll (both) ${o.fanoutPoll.join(', ')}. Each size: ${o.rateSeconds} s at 10 msg/s, then flat out (up to ${o.flatDeliveries.toLocaleString('en')} deliveries or ${o.flatMaxSeconds} s).
- Jobs sizes: ${o.jobs.join(', ')} (long-poll and the HTTP/2 variants: ${o.jobsSmall.join(', ')}), ${o.jobsSeconds} s each after 1 s of the same load unmeasured (warm-up). Idle: ${o.idle.join(', ')} connections (over HTTP/2: WebSocket and SSE). Churn: ${o.churnClients} long-poll clients, ${o.churnRate} msg/s for ${o.churnSeconds} s.
- Messages are 100 B of JSON \`{"seq":N,"t":<µs>,"pad":"…"}\` published over HTTP (Herald \`POST /_broadcast\`, Nchan \`POST /pub/<ch>\`, the Node peers \`POST /pub/<ch>\` or \`POST /pub\` with an array; batch arrays where the server takes them).

## Commands

\`\`\`sh
npm run bench -- --report docs/benchmarks.md            # this report: every scenario, server and transport (${(r.elapsedSec / 60).toFixed(0)} min here)
npm run bench -- fanout --servers herald,ws --transports ws --subscribers 5000 --repeats 1   # one targeted case
npm run bench -- fanout --servers herald,nchan --transports sse-h2,long-poll-h2 --subscribers 1000   # HTTP/2 variants
npm run bench -- everyday --everyday 1000,5000 --transports ws,sse --repeats 1   # 10 msg/s: CPU per delivery, p50/p99
npm run bench -- compression --servers herald,ws,socket.io --compression 1000 --repeats 1   # permessage-deflate: bytes and CPU
npm run bench -- --help                                  # scenarios and options
BENCH_CPU_PROF=/tmp/prof npm run bench -- fanout --servers herald --transports ws --subscribers 5000 --repeats 1
npx tsx bench/lib/profile-top.ts /tmp/prof/<file>.cpuprofile          # hot spots by self time
npx tsx bench/lib/profile-phase.ts /tmp/prof/<file>.cpuprofile publishBatch   # the measured phase only: syscalls, Node, Herald, GC
npm run bench -- many --connections 50000 --workers 3 --report docs/benchmarks-many.md   # many connections with --workers (its row in the summary)
BENCH_HEAP_SNAPSHOT=/tmp/snap npm run bench -- idle --servers herald --transports ws --idle 2000 --repeats 1
npx tsx bench/lib/heap-top.ts <before>.heapsnapshot <after>.heapsnapshot 1600   # bytes per connection by type
node --import tsx --test test/bench/harness.test.ts      # the smoke test (20 subscribers, Herald; ws, ws-h2, sse-h2, long-poll-h2)
npm run bench -- soak --minutes 30 --connections 3000 --report docs/benchmarks.md   # the soak: memory over 30 min of churn (section Soak; not in CI)
\`\`\`

## Results

${renderTables(r.rows)}
## Targets

${renderTargets(r.rows)}

${r.skipped.length ? `## Skipped or failed\n\n${r.skipped.map((s) => `- ${s}`).join('\n')}\n` : ''}
${notesText}
`
}
