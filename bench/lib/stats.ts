import { HIST_US } from '../driver/conn.js'
import type { WorkerResult } from '../driver/worker.js'

/** One phase's figures for one server/transport, from all driver processes together. */
export interface Figures {
  delivered: number
  deliveriesPerSec: number
  p50: number
  p95: number
  p99: number
  max: number
  lost: number
  dup: number
  reorder: number
  /** Connections that ended during the phase. */
  ended: number
  requestsPerSec: number
  serverCpuPct: number
  /** Server CPU µs per delivered message. */
  cpuPerDeliveryUs: number
  /** Bytes the server wrote (all sockets, from /proc/<pid>/io) per delivered message. */
  wireBytesPerDelivery?: number
  /** Write syscalls the server made (/proc/<pid>/io) per delivered message: how well writes batch. */
  writesPerDelivery?: number
  /** Driver CPU: all its processes together, and the busiest one, in % of one core. */
  driverCpuPct: number
  driverMaxPct: number
  stealPct: number
  published: number
  publishPerSec: number
  publishErrors: number
  spanSec: number
}

/** Merges the workers' sparse histograms and reads percentiles in milliseconds. */
export function latency(results: WorkerResult[]): { p50: number; p95: number; p99: number; max: number } {
  const counts = new Map<number, number>()
  let n = 0
  for (const r of results) {
    for (let i = 0; i < r.hist.length; i += 2) {
      counts.set(r.hist[i], (counts.get(r.hist[i]) ?? 0) + r.hist[i + 1])
      n += r.hist[i + 1]
    }
  }
  const buckets = [...counts.keys()].sort((a, b) => a - b)
  const at = (q: number) => {
    const want = Math.ceil(q * n)
    let seen = 0
    for (const b of buckets) {
      seen += counts.get(b)!
      if (seen >= want) return ((b + 0.5) * HIST_US) / 1000
    }
    return 0
  }
  const max = Math.max(0, ...results.map((r) => r.maxLatencyUs)) / 1000
  return n === 0 ? { p50: NaN, p95: NaN, p99: NaN, max: NaN } : { p50: at(0.5), p95: at(0.95), p99: at(0.99), max }
}

export function sum(results: WorkerResult[], key: 'delivered' | 'lost' | 'dup' | 'reorder' | 'ended' | 'requests'): number {
  return results.reduce((a, r) => a + r[key], 0)
}

export function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (s.length === 0) return NaN
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** A compact number: 1234567 → 1.23M, 0.01234 → 0.0123. */
export function fmt(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return '–'
  const a = Math.abs(x)
  if (a >= 1e6) return `${(x / 1e6).toPrecision(digits)}M`
  if (a >= 1e4) return `${(x / 1e3).toPrecision(digits)}k`
  if (a >= 100) return x.toFixed(0)
  if (a === 0) return '0'
  return x.toPrecision(digits)
}

/** Median with its min–max over repeats: "62.1k (60.3k–63.9k)"; a single run shows only its value. */
export function range(xs: number[], digits = 3): string {
  const v = xs.filter((x) => Number.isFinite(x))
  if (v.length === 0) return '–'
  const lo = Math.min(...v)
  const hi = Math.max(...v)
  if (v.length === 1 || fmt(lo, digits) === fmt(hi, digits)) return fmt(median(v), digits)
  return `${fmt(median(v), digits)} (${fmt(lo, digits)}–${fmt(hi, digits)})`
}
