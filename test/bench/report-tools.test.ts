import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { costByStep } from '../../bench/lib/cost-budget.js'
import type { Figures } from '../../bench/lib/stats.js'
import { lineChart } from '../../bench/lib/svg-chart.js'
import { renderPlots, renderSummary } from '../../bench/report-summary.js'
import type { Row } from '../../bench/scenarios.js'

// The bench report's own tools, on made-up inputs whose right answer is known: the summary's
// verdicts, the SVG plot, and the jobs cost budget's cut and attribution of a CPU profile.

const figures = (f: Partial<Figures>): Figures => ({
  delivered: 0, deliveriesPerSec: NaN, p50: NaN, p95: NaN, p99: NaN, max: NaN, lost: 0, dup: 0, reorder: 0, ended: 0, requestsPerSec: 0,
  serverCpuPct: 0, cpuPerDeliveryUs: NaN, driverCpuPct: 0, driverMaxPct: 0, stealPct: 0, published: 0, publishPerSec: 0, publishErrors: 0, spanSec: 0, ...f,
})
const row = (scenario: Row['scenario'], server: string, size: number, phase: string, f: Partial<Figures>): Row => ({ scenario, server, transport: 'ws', size, phase, figures: figures(f) })

test('the summary compares Herald with each peer, says met or missed per target, and not measured where a side is missing', () => {
  const rows = [
    row('everyday', 'herald', 1000, '10 msg/s', { cpuPerDeliveryUs: 10, p50: 8, p99: 20 }),
    row('everyday', 'nchan', 1000, '10 msg/s', { cpuPerDeliveryUs: 8 }),
    row('everyday', 'ws', 1000, '10 msg/s', { cpuPerDeliveryUs: 9, p50: 9, p99: 30 }),
    row('jobs', 'herald', 1000, '10/s each', { cpuPerDeliveryUs: 50, p99: 30 }),
    row('jobs', 'ws', 1000, '10/s each', { cpuPerDeliveryUs: 60, p99: 10 }),
  ]
  const text = renderSummary({ rows, stealPct: 0.4, elapsedSec: 600, machine: '2 × test CPU' }, ['benchmarks-latency.svg'])
  const line = (scenario: string, figure: string) => text.split('\n').find((l) => l.startsWith(`| ${scenario} | ${figure} |`))
  assert.match(line('Everyday, 1k WebSocket, 10 msg/s', 'server CPU µs/delivery')!, /\| 10.0 \| 9.00 \(1.11×\) \| – \| 8.00 \(1.25×\) \| ≤ Nchan \| \*\*missed\*\* \|$/)
  assert.match(line('Everyday, 1k WebSocket, 10 msg/s', 'p50 ms')!, /\| ≤ raw ws \| met \|$/)
  assert.match(line('Everyday, 1k WebSocket, 10 msg/s', 'p99 ms')!, /\| ≤ raw ws \| met \|$/)
  assert.match(line('Jobs, 1k WebSocket streams, 10/s each', 'server CPU µs/delivery')!, /\| met \|$/)
  assert.match(line('Jobs, 1k WebSocket streams, 10/s each', 'p99 ms')!, /\| 30.0 \| 10.0 \(3.00×\) .*\| ≤ 2× raw ws \| \*\*missed\*\* \|$/)
  assert.match(line('Everyday, 5k WebSocket, 10 msg/s', 'server CPU µs/delivery')!, /\| not measured \|$/)
  assert.match(text, /^2 × test CPU; host steal 0.4% /)
  assert.match(text, /!\[latency\]\(benchmarks-latency.svg\)/)
})

test('a plot has one line per series, leaves out what was not measured, and says so when nothing was', () => {
  const svg = lineChart({ title: 'T', xLabel: 'x', yLabel: 'y', logY: true, series: [
    { name: 'Herald p99', points: [[1000, 12], [5000, 80]] },
    { name: 'raw ws p99', points: [[1000, 10], [5000, NaN]] },
    { name: 'Nchan <p99>', points: [[1000, NaN]] },
  ] })
  assert.equal(svg.match(/<polyline /g)?.length, 2, 'a series with no measured point draws nothing')
  assert.equal(svg.match(/<circle /g)?.length, 3)
  assert.match(svg, />Herald p99</)
  assert.doesNotMatch(svg, /Nchan/)
  assert.match(svg, /text-anchor="end" dominant-baseline="middle">10</, 'a log axis has ticks at round values')
  assert.match(lineChart({ title: 'T', xLabel: 'x', yLabel: 'y', series: [] }), /not measured in this run/)
  const plots = renderPlots([row('fanout', 'herald', 1000, '10 msg/s', { p50: 5, p99: 9 }), row('fanout', 'herald', 1000, 'flat out', { cpuPerDeliveryUs: 2 })])
  assert.deepEqual(plots.map(([name]) => name), ['latency', 'cpu'])
  assert.equal(plots[0]![1].match(/<polyline /g)?.length, 2, 'Herald p99 and p50')
})

test('the cost budget counts only samples inside the phase, each charged to the innermost step on its stack', () => {
  const frame = (id: number, functionName: string, url: string, children: number[] = []) => ({ id, callFrame: { functionName, url, scriptId: '0', lineNumber: 0, columnNumber: 0 }, children })
  const profile = {
    nodes: [
      frame(1, '(root)', '', [2, 3, 6, 8]),
      frame(2, '(idle)', ''),
      frame(3, 'addPublishRoute', 'file:///x/dist/server/publish-api.js', [4, 5]),
      frame(4, 'readJson', 'file:///x/dist/http/body.js'),
      frame(5, 'sendJson', 'file:///x/dist/http/respond.js', [9]),
      frame(6, 'flushQuiet', 'file:///x/dist/core/outbox.js', [7]),
      frame(7, 'writeBuffer', ''),
      frame(8, '(garbage collector)', ''),
      frame(9, 'writev', ''),
    ],
    // Times (µs since startTime): 100 body, 200 body, 300 write, 400 reply's writev, 500 GC, 600 idle, 700 write (after the phase).
    startTime: 1_000_000,
    samples: [4, 4, 7, 9, 8, 2, 7],
    timeDeltas: [100, 100, 100, 100, 100, 100, 100],
  }
  const dir = mkdtempSync(join(tmpdir(), 'herald-budget-'))
  try {
    const file = join(dir, 'p.cpuprofile')
    writeFileSync(file, JSON.stringify(profile))
    const cost = costByStep(file, 1_000_150, 1_000_650)
    assert.equal(cost.get('body read and JSON parse'), 100, 'the sample at 100 µs is before the phase')
    assert.equal(cost.get('socket writes (transport, ws, libuv)'), 100, 'the write at 700 µs is after it')
    assert.equal(cost.get('reply (201 JSON)'), 100, "the reply's own writev is the reply's")
    assert.equal(cost.get('garbage collection'), 100)
    assert.equal([...cost.values()].reduce((a, b) => a + b, 0), 400, 'idle time is nobody\'s')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
