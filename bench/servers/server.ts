import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import net from 'node:net'
import type { ClientSpec } from '../driver/conn.js'
import { childPids } from '../lib/proc.js'

/** The transports the benchmark knows; a server lists the ones it has. `-h2`: the same over HTTP/2 (h2c). */
export type H1Transport = 'ws' | 'sse' | 'ndjson' | 'long-poll'
export type BenchTransport = H1Transport | `${H1Transport}-h2`
export const H1_TRANSPORTS: H1Transport[] = ['ws', 'sse', 'ndjson', 'long-poll']
export const ALL_TRANSPORTS: BenchTransport[] = [...H1_TRANSPORTS, ...H1_TRANSPORTS.map((t) => `${t}-h2` as const)]

/** The wire a transport runs on, and whether it is the HTTP/2 variant. */
export function splitTransport(t: BenchTransport): { base: H1Transport; h2: boolean } {
  return t.endsWith('-h2') ? { base: t.slice(0, -3) as H1Transport, h2: true } : { base: t as H1Transport, h2: false }
}

/** How the publisher reaches a server: one message per request, or a JSON array of many. */
export interface PublishTarget {
  port: number
  /** Most messages in one request (1 = no batching). */
  maxBatch: number
  /** The full HTTP/1.1 request for these messages (payloads are JSON text). */
  request(list: { stream: string; payload: string }[]): string
}

export interface RunningServer {
  /** Processes whose CPU and RSS count as the server's. */
  pids(): number[]
  client(transport: BenchTransport): ClientSpec
  publish: PublishTarget
  /** Total subscriptions the server reports (for readiness). */
  subscribers(): Promise<number>
  /** Heap in use after a full GC (Node servers), or undefined. */
  heapUsed(): Promise<number | undefined>
  stop(): Promise<void>
}

/** How a server is started for a scenario: `wsCompression` = permessage-deflate on its WebSockets (bench compression). */
export interface StartOptions {
  wsCompression?: boolean
  /** Run under V8's CPU profiler, writing the profile into this directory when the server stops (bench jobs cost budget). */
  cpuProfileDir?: string
}

export interface ServerAdapter {
  readonly name: string
  /** Transports this server has now (the others are reported as not available). */
  transports(): BenchTransport[]
  /** Why it cannot run here, or undefined. Called once before any start. */
  prepare(): Promise<string | undefined>
  start(options?: StartOptions): Promise<RunningServer>
}

export const BENCH_TMP = '/tmp/herald-bench'
const HEAP_PROBE = new URL('../peers/heap-probe.mjs', import.meta.url).href

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => resolve(port))
    })
  })
}

export async function waitForPort(port: number, child: ChildProcess, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`)
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => {
        s.destroy()
        resolve(true)
      })
      s.on('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error(`port ${port} did not open`)
    await sleep(100)
  }
}

/** Every server process the harness started, killed if the harness itself exits early. */
const started = new Set<ChildProcess>()
process.on('exit', () => {
  for (const c of started) {
    if (c.exitCode !== null || c.signalCode !== null) continue
    // nginx's workers outlive a killed master: kill them first.
    for (const pid of childPids(c.pid ?? 0)) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
    c.kill('SIGKILL')
  }
})
export function track(child: ChildProcess): ChildProcess {
  started.add(child)
  child.once('exit', () => started.delete(child))
  return child
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** A small HTTP GET over a fresh connection (for stats, not on any measured path). */
export async function httpGet(port: number, path: string, headers: Record<string, string> = {}): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers })
  return res.text()
}

/**
 * Starts a Node server process with the heap probe preloaded and returns its handle. The child
 * is the node process itself (no npx/shell in between), so /proc/<pid> is the server.
 * `typescript`: load tsx for a .ts entry (the peers); built JavaScript runs without it.
 */
export function spawnNode(args: string[], heapFile: string, extraEnv: Record<string, string> = {}, typescript = true, cpuProfileDir = process.env.BENCH_CPU_PROF): ChildProcess {
  mkdirSync(BENCH_TMP, { recursive: true })
  rmSync(heapFile, { force: true })
  // BENCH_CPU_PROF=<dir> (or a run's own cpuProfileDir): the server writes a V8 CPU profile there when it stops.
  const prof = cpuProfileDir ? ['--cpu-prof', '--cpu-prof-dir', cpuProfileDir] : []
  // A young generation of fixed size from the start: otherwise it grows (1 → 16 MiB semi-spaces)
  // during the connect burst and its pages land in "RSS per connection" (±5 KiB/conn at 3k).
  const child = spawn(process.execPath, ['--expose-gc', '--min-semi-space-size=16', '--max-semi-space-size=16', ...prof, ...(typescript ? ['--import', 'tsx'] : []), '--import', HEAP_PROBE, ...args], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, ...extraEnv, BENCH_HEAP_FILE: heapFile, NODE_ENV: 'production' },
  })
  return track(child)
}

/** Sends SIGUSR2 to a probed Node server and reads the heap it reports after a full GC. */
export async function probeHeap(child: ChildProcess, heapFile: string): Promise<number | undefined> {
  rmSync(heapFile, { force: true })
  child.kill('SIGUSR2')
  for (let i = 0; i < 100; i++) {
    await sleep(30)
    if (existsSync(heapFile)) {
      try {
        return (JSON.parse(readFileSync(heapFile, 'utf8')) as { heapUsed: number }).heapUsed
      } catch {
        // half-written: retry
      }
    }
  }
  return undefined
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  child.kill('SIGTERM')
  const t = setTimeout(() => child.kill('SIGKILL'), 3000)
  await exited
  clearTimeout(t)
}

export function withChildren(pid: number | undefined): number[] {
  return pid ? [pid, ...childPids(pid)] : []
}
