// Where a publication's server CPU goes: a V8 CPU profile of the server, cut to the measured
// phase's time window, with each sample charged to one step of the publish path. Divided by the
// publications of the phase, that is the per-publication cost budget the jobs report prints.
import { readFileSync } from 'node:fs'

interface ProfileNode { id: number; callFrame: { functionName: string; url: string }; children?: number[] }
interface Profile { nodes: ProfileNode[]; startTime: number; samples: number[]; timeDeltas: number[] }

/** The steps, in the order the report prints them. */
export const STEPS = [
  'HTTP in (Node parser, routing, auth)',
  'body read and JSON parse',
  'validation (zod)',
  'broker append',
  'encoding (canonical JSON, frames)',
  'fan-out (hub, subscriptions, outbox)',
  'socket writes (transport, ws, libuv)',
  'reply (201 JSON)',
  'garbage collection',
  'other (timers, keepalives, program)',
] as const
export type Step = (typeof STEPS)[number]

// Herald's own modules, by folder/file under src/ (tsx) or dist/ (the build the bench runs).
const HERALD: [RegExp, Step][] = [
  [/\/(src|dist)\/http\/respond\./, 'reply (201 JSON)'],
  [/\/(src|dist)\/http\/body\.|\/(src|dist)\/protocol\/json-depth\./, 'body read and JSON parse'],
  [/\/node_modules\/zod\//, 'validation (zod)'],
  [/\/(src|dist)\/broker\//, 'broker append'],
  [/\/(src|dist)\/(protocol|framing)\//, 'encoding (canonical JSON, frames)'],
  [/\/(src|dist)\/(hub|core)\//, 'fan-out (hub, subscriptions, outbox)'],
  [/\/(src|dist)\/transport\/|\/node_modules\/ws\//, 'socket writes (transport, ws, libuv)'],
  [/\/(src|dist)\/(http|server|auth)\//, 'HTTP in (Node parser, routing, auth)'],
]
// Node's own frames, used only when no Herald frame is on the stack.
const NODE: [RegExp, Step][] = [
  [/^node:(net|internal\/stream_base_commons|internal\/streams)/, 'socket writes (transport, ws, libuv)'],
  [/^node:_http_/, 'HTTP in (Node parser, routing, auth)'],
]
const WRITE_NATIVES = /^(writev|writeBuffer|writeUtf8String|writeLatin1String|writeAsciiString)$/

function stepOf(stack: ProfileNode[]): Step | undefined {
  // Innermost Herald frame decides (JSON.parse inside body.ts is body parsing); a native socket
  // write under it counts as a socket write unless it is the reply's.
  let write = false
  for (const n of stack) {
    const { functionName, url } = n.callFrame
    if (functionName === '(idle)') return undefined
    if (functionName === '(garbage collector)') return 'garbage collection'
    if (WRITE_NATIVES.test(functionName)) write = true
    for (const [re, step] of HERALD) {
      if (re.test(url)) return write && step !== 'reply (201 JSON)' ? 'socket writes (transport, ws, libuv)' : step
    }
  }
  if (write) return 'socket writes (transport, ws, libuv)'
  for (const n of stack) for (const [re, step] of NODE) if (re.test(n.callFrame.url)) return step
  return 'other (timers, keepalives, program)'
}

/**
 * Microseconds of CPU per step within [fromUs, toUs] (the monotonic clock in µs, which V8's
 * profile timestamps and `process.hrtime` share on Linux).
 */
export function costByStep(file: string, fromUs: number, toUs: number): Map<Step, number> {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, ProfileNode>()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n)
  const cache = new Map<number, Step | undefined>()
  const out = new Map<Step, number>(STEPS.map((s) => [s, 0]))
  let t = p.startTime
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0
    // A sample's delta is the time since the previous one: charge it to this sample.
    if (t < fromUs || t > toUs) continue
    const id = p.samples[i]!
    if (!cache.has(id)) {
      const stack: ProfileNode[] = []
      for (let n = byId.get(id); n; n = parent.get(n.id)) stack.push(n)
      cache.set(id, stepOf(stack))
    }
    const step = cache.get(id)
    if (step) out.set(step, out.get(step)! + (p.timeDeltas[i] ?? 0))
  }
  return out
}

/** The monotonic clock in µs, comparable with a V8 CPU profile's timestamps. */
export const monotonicUs = () => Number(process.hrtime.bigint() / 1000n)
