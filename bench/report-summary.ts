// The report's first screen: for each scenario, Herald's figure, each peer's, the ratio and
// whether the target is met; and the plots linked from it. Everything here reads the same rows
// as the tables (medians over repeats), so the summary cannot disagree with them.
import type { ManyFigures, Row } from './scenarios.js'
import { figs, find, groups, SERVER_ORDER, type Group } from './lib/groups.js'
import { fmt, median, type Figures } from './lib/stats.js'
import { lineChart, type Series } from './lib/svg-chart.js'

const PEERS = SERVER_ORDER.filter((s) => s !== 'herald')
const PEER_NAMES: Record<string, string> = { ws: 'raw ws', 'socket.io': 'Socket.IO', nchan: 'Nchan' }

interface Line {
  scenario: string
  figure: string
  herald: number
  /** The same figure per peer that ran it. */
  peers: Record<string, number>
  target: string
  /** undefined: not measured in this run (a peer or the scenario did not run). */
  met: boolean | undefined
}

const med = (g: Group | undefined, k: keyof Figures) => median(figs(g, k))
const finite = (...xs: number[]) => xs.every((x) => Number.isFinite(x))
/** `ok(a, b)` when both are measured, else undefined. */
const check = (a: number, b: number, ok: (a: number, b: number) => boolean) => (finite(a, b) ? ok(a, b) : undefined)
const all3 = (...vs: (boolean | undefined)[]) => (vs.some((v) => v === false) ? false : vs.some((v) => v === undefined) ? undefined : true)

function lines(rows: Row[]): Line[] {
  const all = groups(rows)
  const per = (scenario: string, t: string, n: number, phase: string, k: keyof Figures) => {
    const peers: Record<string, number> = {}
    for (const p of PEERS) peers[p] = med(find(all, scenario, t, n, p, phase), k)
    return { herald: med(find(all, scenario, t, n, 'herald', phase), k), peers }
  }
  const out: Line[] = []

  // Fan-out flat out (issue #5's targets, kept): WebSocket against each peer, SSE against Nchan.
  {
    const f = per('fanout', 'ws', 5000, 'flat out', 'deliveriesPerSec')
    const met = all3(check(f.herald, f.peers.ws!, (h, p) => h >= 0.9 * p), check(f.herald, f.peers['socket.io']!, (h, p) => h >= 5 * p), check(f.herald, f.peers.nchan!, (h, p) => h >= p))
    out.push({ scenario: 'Fan-out, 5k WebSocket, flat out', figure: 'deliveries/s', ...f, target: '≥ 0.9× raw ws, 5× Socket.IO, 1× Nchan', met })
  }
  for (const t of ['sse', 'long-poll']) {
    const n = t === 'sse' ? 5000 : 1000
    const f = per('fanout', t, n, 'flat out', 'deliveriesPerSec')
    out.push({ scenario: `Fan-out, ${n / 1000}k ${t === 'sse' ? 'SSE' : 'long-poll'}, flat out`, figure: 'deliveries/s', ...f, target: '≥ Nchan', met: check(f.herald, f.peers.nchan!, (h, p) => h >= p) })
  }

  // The everyday rate (#14): CPU per delivery ≤ Nchan's; latency ≤ the raw ws server's.
  for (const t of ['ws', 'sse']) {
    for (const n of [1000, 5000]) {
      const name = `Everyday, ${n / 1000}k ${t === 'ws' ? 'WebSocket' : 'SSE'}, 10 msg/s`
      const cpu = per('everyday', t, n, '10 msg/s', 'cpuPerDeliveryUs')
      out.push({ scenario: name, figure: 'server CPU µs/delivery', ...cpu, target: '≤ Nchan', met: check(cpu.herald, cpu.peers.nchan!, (h, p) => h <= p) })
      if (t !== 'ws') continue
      for (const k of ['p50', 'p99'] as const) {
        const l = per('everyday', t, n, '10 msg/s', k)
        out.push({ scenario: name, figure: `${k} ms`, ...l, target: '≤ raw ws', met: check(l.herald, l.peers.ws!, (h, p) => h <= p) })
      }
    }
  }

  // Jobs (#14): CPU per delivery ≤ the raw ws peer's, p99 ≤ 2× its.
  for (const n of [1000, 10000]) {
    const name = `Jobs, ${n / 1000}k WebSocket streams, 10/s each`
    const cpu = per('jobs', 'ws', n, '10/s each', 'cpuPerDeliveryUs')
    out.push({ scenario: name, figure: 'server CPU µs/delivery', ...cpu, target: '≤ raw ws', met: check(cpu.herald, cpu.peers.ws!, (h, p) => h <= p) })
    const p99 = per('jobs', 'ws', n, '10/s each', 'p99')
    out.push({ scenario: name, figure: 'p99 ms', ...p99, target: '≤ 2× raw ws', met: check(p99.herald, p99.peers.ws!, (h, p) => h <= 2 * p) })
  }

  // Compression (#14): deflate once per broadcast against per-socket deflate.
  {
    const cpu = per('compression', 'ws', 1000, 'deflate 10 msg/s', 'cpuPerDeliveryUs')
    const met = all3(check(cpu.herald, cpu.peers.ws!, (h, p) => h <= 0.25 * p), check(cpu.herald, cpu.peers['socket.io']!, (h, p) => h <= 0.25 * p))
    out.push({ scenario: 'permessage-deflate, 1k WebSocket, 10 msg/s', figure: 'server CPU µs/delivery', ...cpu, target: '≤ 0.25× raw ws and Socket.IO', met })
    const bytes = per('compression', 'ws', 1000, 'deflate 10 msg/s', 'wireBytesPerDelivery')
    const plain = med(find(all, 'compression', 'ws', 1000, 'herald', 'plain 10 msg/s'), 'wireBytesPerDelivery')
    out.push({ scenario: 'permessage-deflate, 1k WebSocket, 10 msg/s', figure: `bytes/delivery (Herald plain: ${fmt(plain)})`, ...bytes, target: '≤ ⅓ of plain', met: check(bytes.herald, plain, (h, p) => h <= p / 3) })
  }

  // Idle memory: WebSocket over HTTP/1.1 (#5) and over RFC 8441 (#14), heap after a full GC.
  const idle = (t: string, s: string, k: 'rssPerConn' | 'heapPerConn') =>
    median(all.filter((g) => g.scenario === 'idle' && g.transport === t && g.server === s).flatMap((g) => g.runs.map((r) => (r.idle ? r.idle[k] / 1024 : NaN))))
  for (const [t, label, k, f] of [['ws', 'WebSocket', 'rssPerConn', 1.25], ['ws-h2', 'WebSocket over HTTP/2', 'heapPerConn', 1]] as const) {
    const peers: Record<string, number> = {}
    for (const p of PEERS) peers[p] = idle(t, p, k)
    const herald = idle(t, 'herald', k)
    out.push({ scenario: `Idle, ${label}`, figure: k === 'rssPerConn' ? 'RSS KiB/conn' : 'heap KiB/conn', herald, peers, target: `≤ ${f}× raw ws`, met: check(herald, peers.ws!, (h, p) => h <= f * p) })
  }

  const bad = rows.filter((r) => r.server === 'herald' && r.figures && (r.figures.lost || r.figures.dup || r.figures.reorder)).length
  out.push({ scenario: 'Every scenario', figure: 'lost, duplicated or reordered', herald: bad, peers: {}, target: '0 phases with any', met: rows.length ? bad === 0 : undefined })
  return out
}

/** One cell: the peer's figure and Herald ÷ peer. */
function cell(herald: number, peer: number | undefined): string {
  if (peer === undefined || !Number.isFinite(peer)) return '–'
  return Number.isFinite(herald) && peer !== 0 ? `${fmt(peer)} (${(herald / peer).toFixed(2)}×)` : fmt(peer)
}

export interface SummaryInput {
  rows: Row[]
  stealPct: number
  elapsedSec: number
  machine: string
  /** `npm run bench -- many`'s last run (its own report), when there is one. */
  many?: ManySaved
}

/** What bench/many.ts saves next to its report. */
export interface ManySaved extends ManyFigures {
  workers: number
  finishedAt: string
}

/** The one-screen summary that opens docs/benchmarks.md. */
export function renderSummary(r: SummaryInput, plots: string[]): string {
  const ls = lines(r.rows)
  const m = r.many
  // Herald alone (the peers are one process each, under the same open-file limit): its own run.
  const held = m ? !m.note && m.figures !== undefined && m.figures.lost === 0 && m.figures.dup === 0 && m.figures.reorder === 0 : undefined
  ls.splice(ls.length - 1, 0, {
    scenario: m ? `${fmt(m.connections)} WebSockets, \`--workers ${m.workers}\` ([its run](benchmarks-many.md), ${m.finishedAt.slice(0, 10)})` : '50k WebSockets, `--workers` (`npm run bench -- many`)',
    figure: m?.figures ? `RSS KiB/conn; connect s; p99 ms at 10 msg/s: ${(m.rssPerConn / 1024).toFixed(1)}; ${m.connectSeconds.toFixed(0)}; ${fmt(m.figures.p99)}` : 'held, RSS/conn, connect time, p99',
    herald: m ? m.connections : NaN,
    peers: {},
    target: 'all held, every message delivered once',
    met: held,
  })
  const verdict = (m: boolean | undefined) => (m === undefined ? 'not measured' : m ? 'met' : '**missed**')
  const table = [
    `| scenario | figure | Herald | ${PEERS.map((p) => `${PEER_NAMES[p]} (Herald ÷ it)`).join(' | ')} | target | |`,
    `| --- | --- | --- | ${PEERS.map(() => '---').join(' | ')} | --- | --- |`,
    ...ls.map((l) => `| ${l.scenario} | ${l.figure} | ${fmt(l.herald)} | ${PEERS.map((p) => cell(l.herald, l.peers[p])).join(' | ')} | ${l.target} | ${verdict(l.met)} |`),
  ]
  const met = ls.filter((l) => l.met === true).length
  const missed = ls.filter((l) => l.met === false).length
  return [
    `${r.machine}; host steal ${r.stealPct.toFixed(1)}% of all CPU time over the ${(r.elapsedSec / 60).toFixed(0)}-minute run (above ~2% the CPU figures are noisy).`,
    `Medians over the run's repeats. ${met} targets met, ${missed} missed, ${ls.length - met - missed} not measured; why each missed one is missed: "What limits the missed targets" below.`,
    '',
    ...table,
    '',
    plots.map((p) => `![${p.replace(/^.*-|\.svg$/g, '')}](${p})`).join(' '),
    '',
  ].join('\n')
}

/** Plots as [file suffix, SVG]: latency percentiles and CPU per delivery by subscriber count, one line per server. */
export function renderPlots(rows: Row[]): [string, string][] {
  const all = groups(rows)
  const servers = SERVER_ORDER.filter((s) => all.some((g) => g.server === s))
  const sizes = (scenario: string, t: string) => [...new Set(all.filter((g) => g.scenario === scenario && g.transport === t).map((g) => g.size))].sort((a, b) => a - b)
  const name = (s: string) => (s === 'herald' ? 'Herald' : PEER_NAMES[s] ?? s)

  const latency: Series[] = servers.flatMap((s) => (['p99', 'p50'] as const).map((k) => ({
    name: `${name(s)} ${k}`,
    dashed: k === 'p50',
    points: sizes('fanout', 'ws').map((n) => [n, med(find(all, 'fanout', 'ws', n, s, '10 msg/s'), k)] as [number, number]),
  })))
  const cpu: Series[] = servers.map((s) => ({
    name: name(s),
    points: sizes('fanout', 'ws').map((n) => [n, med(find(all, 'fanout', 'ws', n, s, 'flat out'), 'cpuPerDeliveryUs')] as [number, number]),
  }))
  return [
    ['latency', lineChart({ title: 'WebSocket fan-out at 10 msg/s: publish-to-receive latency', xLabel: 'subscribers on one stream', yLabel: 'ms (solid p99, dashed p50)', series: latency, logY: true })],
    ['cpu', lineChart({ title: 'WebSocket fan-out flat out: server CPU per delivery', xLabel: 'subscribers on one stream', yLabel: 'µs per delivery', series: cpu, logY: true })],
  ]
}
