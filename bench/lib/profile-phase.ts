/**
 * `tsx bench/lib/profile-phase.ts <file.cpuprofile> <marker> [n]`: where a server's CPU went during
 * a measured phase, for any Node server (Herald or a peer). The phase is the span between the
 * first and last sample with `marker` on its stack (a function only the publish path runs:
 * `publishBatch` for Herald, `broadcast` for the raw ws peer); its busy time is split into the
 * write syscalls, Node's own JavaScript (streams, net, http), the server's JavaScript, GC and the
 * rest, then the top `n` functions by self time.
 */
import { readFileSync } from 'node:fs'

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface Profile { nodes: ProfileNode[]; startTime: number; samples: number[]; timeDeltas: number[] }

const WRITES = /^(writeBuffer|writev|writeUtf8String|writeLatin1String|writeAsciiString|writeUcs2String)$/

function kind(n: ProfileNode): string {
  const { functionName, url } = n.callFrame
  if (WRITES.test(functionName)) return 'write syscalls (libuv write/writev)'
  if (functionName === '(garbage collector)') return 'garbage collection'
  if (url.startsWith('node:')) return "Node's JavaScript (streams, net, http, timers)"
  if (url.includes('/node_modules/')) return 'libraries (ws, zod, …)'
  if (url.startsWith('file:')) return "the server's own JavaScript"
  return 'other (program, native)'
}

export function phaseBreakdown(file: string, marker: string): { seconds: number; busyMs: number; kinds: [string, number][]; top: [string, number][] } {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, ProfileNode>()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n)
  const marked = new Map<number, boolean>()
  const hasMarker = (id: number): boolean => {
    let v = marked.get(id)
    if (v === undefined) {
      v = false
      for (let n = byId.get(id); n; n = parent.get(n.id)) if (n.callFrame.functionName === marker) v = true
      marked.set(id, v)
    }
    return v
  }
  const times: number[] = []
  let t = p.startTime
  for (let i = 0; i < p.samples.length; i++) times.push((t += p.timeDeltas[i] ?? 0))
  let first = Infinity, last = -Infinity
  p.samples.forEach((id, i) => {
    if (hasMarker(id)) {
      first = Math.min(first, times[i]!)
      last = Math.max(last, times[i]!)
    }
  })
  const kinds = new Map<string, number>()
  const self = new Map<string, number>()
  let busy = 0
  p.samples.forEach((id, i) => {
    if (times[i]! < first || times[i]! > last) return
    const n = byId.get(id)!
    if (n.callFrame.functionName === '(idle)') return
    const dt = p.timeDeltas[i] ?? 0
    busy += dt
    const k = kind(n)
    kinds.set(k, (kinds.get(k) ?? 0) + dt)
    const f = n.callFrame
    const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(node_modules|src|dist|bench)\//, '$1/')}:${f.lineNumber + 1}`
    self.set(key, (self.get(key) ?? 0) + dt)
  })
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1])
  return { seconds: Number.isFinite(first) ? (last - first) / 1e6 : 0, busyMs: busy / 1e3, kinds: sorted(kinds), top: sorted(self) }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, marker, n] = process.argv.slice(2)
  if (!file || !marker) throw new Error('usage: tsx bench/lib/profile-phase.ts <file.cpuprofile> <marker function> [n]')
  const r = phaseBreakdown(file, marker)
  if (r.busyMs === 0) {
    console.log(`no sample has ${marker} on its stack: not this server's profile, or the phase did not run`)
    process.exit(0)
  }
  console.log(`phase: ${r.seconds.toFixed(2)} s between the first and last sample under ${marker}; busy ${r.busyMs.toFixed(0)} ms`)
  for (const [k, v] of r.kinds) console.log(`${((100 * v) / (r.busyMs * 1e3)).toFixed(1).padStart(5)}%  ${k}`)
  console.log('top functions by self time:')
  for (const [k, v] of r.top.slice(0, Number(n ?? 15))) console.log(`${((100 * v) / (r.busyMs * 1e3)).toFixed(1).padStart(5)}%  ${k}`)
}
