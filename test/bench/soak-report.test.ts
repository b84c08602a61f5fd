import assert from 'node:assert/strict'
import { test } from 'node:test'
import { SOAK_BEGIN, SOAK_END, soakSection, trend, verdict, withSoakSection, type SoakRun, type SoakSample } from '../../bench/lib/soak-report.js'

// The soak's verdict and its section of docs/benchmarks.md (npm run bench -- soak --report):
// memory that stays level within noise is flat, memory that climbs is not, and re-rendering the
// other scenarios' report keeps the soak section as it was.

const MiB = 1024 * 1024
const sample = (i: number, rss: number, heap: number): SoakSample => ({ at: 60 * (i + 1), rssBytes: rss, heapBytes: heap, connections: 3000, deliveriesPerSec: 1000, reconnects: 30 * i, tooSlow: i, failed: 0 })
const run = (samples: SoakSample[]): SoakRun => ({ minutes: samples.length, connections: 3000, streams: 150, sampleSeconds: 60, published: 1000, samples, finishedAt: '2026-12-02T18:00:00.000Z', machine: 'test' })

test('level memory with noise is flat; a steady climb (1 MiB a minute over 30 minutes) is not', () => {
  const level = Array.from({ length: 30 }, (_, i) => sample(i, (200 + (i % 3) * 2 + (i < 5 ? -40 : 0)) * MiB, (40 + (i % 2)) * MiB))
  assert.equal(verdict(run(level)).flat, true, verdict(run(level)).text)
  const climbing = Array.from({ length: 30 }, (_, i) => sample(i, 200 * MiB, (40 + i) * MiB))
  const v = verdict(run(climbing))
  assert.equal(v.flat, false)
  assert.match(v.text, /^GROWING: .*heap after GC 54\.0 → 64\.0 MiB/)
  assert.deepEqual(trend([1, 1, 1, 1, 1, 1].map((x) => x * MiB)), { middle: MiB, last: MiB, flat: true })
  assert.equal(verdict(run(level.slice(0, 2))).flat, false, 'two samples give no verdict')
})

test('the soak section replaces its previous self, is appended when absent, and survives a re-render', () => {
  const section = `${SOAK_BEGIN}\n## Soak\nnew\n${SOAK_END}`
  const doc = `# Benchmarks\n\ntables\n\n${SOAK_BEGIN}\n## Soak\nold\n${SOAK_END}\n\n## After\n`
  assert.equal(withSoakSection(doc, section), `# Benchmarks\n\ntables\n\n${section}\n\n## After\n`)
  assert.equal(withSoakSection('# Benchmarks\n\ntables\n', section), `# Benchmarks\n\ntables\n\n${section}\n`)
  assert.equal(soakSection(withSoakSection('# Benchmarks\n', section)), section)
  // What bench/run.ts does when the other scenarios write the report again.
  const rerendered = withSoakSection('# Benchmarks\n\nnew tables\n', soakSection(doc))
  assert.match(rerendered, /new tables[\s\S]*## Soak\nold/)
  assert.equal(withSoakSection('# B\n', undefined), '# B\n')
})
