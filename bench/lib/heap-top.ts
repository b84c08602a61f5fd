/**
 * `tsx bench/lib/heap-top.ts before.heapsnapshot after.heapsnapshot N`: self size by constructor
 * that grew between two snapshots, divided by N connections (what one idle connection holds).
 */
import { readFileSync } from 'node:fs'

function bySize(file: string): Map<string, { size: number; count: number }> {
  const snap = JSON.parse(readFileSync(file, 'utf8'))
  const f: string[] = snap.snapshot.meta.node_fields
  const types: string[] = snap.snapshot.meta.node_types[0]
  const nf = f.length
  const iType = f.indexOf('type'), iName = f.indexOf('name'), iSize = f.indexOf('self_size')
  const out = new Map<string, { size: number; count: number }>()
  const nodes: number[] = snap.nodes
  for (let i = 0; i < nodes.length; i += nf) {
    const type = types[nodes[i + iType]]
    const name = type === 'object' || type === 'closure' ? `${type}:${snap.strings[nodes[i + iName]]}` : type
    const e = out.get(name) ?? { size: 0, count: 0 }
    e.size += nodes[i + iSize]
    e.count++
    out.set(name, e)
  }
  return out
}

const [a, b, n] = [bySize(process.argv[2]), bySize(process.argv[3]), Number(process.argv[4])]
const rows = [...b].map(([k, v]) => [k, (v.size - (a.get(k)?.size ?? 0)) / n, (v.count - (a.get(k)?.count ?? 0)) / n] as const)
rows.sort((x, y) => y[1] - x[1])
let total = 0
for (const r of rows) total += r[1]
console.log(`total ${total.toFixed(0)} B per connection`)
for (const [k, size, count] of rows.slice(0, 40)) console.log(`${size.toFixed(0).padStart(6)} B  ${count.toFixed(2).padStart(6)}×  ${k}`)
