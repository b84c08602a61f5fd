/**
 * `tsx bench/lib/profile-top.ts <file.cpuprofile> [n]`: self time by function, to name the hot
 * spots of a server run with BENCH_CPU_PROF=<dir>.
 */
import { readFileSync } from 'node:fs'

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }
const prof = JSON.parse(readFileSync(process.argv[2], 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] }
const byId = new Map(prof.nodes.map((n) => [n.id, n]))
const self = new Map<string, number>()
let total = 0
for (let i = 0; i < prof.samples.length; i++) {
  const n = byId.get(prof.samples[i])!
  const f = n.callFrame
  const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(node_modules|src)\//, '$1/')}:${f.lineNumber + 1}`
  const dt = prof.timeDeltas[i] ?? 0
  self.set(key, (self.get(key) ?? 0) + dt)
  total += dt
}
const top = [...self].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, Number(process.argv[3] ?? 25))
const busy = [...self].filter(([k]) => !k.startsWith('(idle)')).reduce((a, [, v]) => a + v, 0)
console.log(`busy ${(busy / 1e6).toFixed(2)} s of ${(total / 1e6).toFixed(2)} s sampled`)
for (const [k, v] of top) console.log(`${((100 * v) / busy).toFixed(1).padStart(5)}%  ${k}`)
