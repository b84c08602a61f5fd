import { readFileSync } from 'node:fs'

/** Kernel clock ticks per second for /proc/<pid>/stat times (USER_HZ; 100 on every Linux we run on). */
const TICKS = 100

/** CPU seconds (user + system) a process has used so far, or 0 once it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(f[11]) + Number(f[12])) / TICKS
  } catch {
    return 0
  }
}

/** Resident set size in bytes (VmRSS), or 0 once the process is gone. */
export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) * 1024 : 0
  } catch {
    return 0
  }
}

/** Direct children of a process (nginx's workers under its master). */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
  } catch {
    return []
  }
}

export interface CpuSample {
  /** All CPUs' ticks, and the hypervisor's steal among them. */
  total: number
  steal: number
}

/** The aggregate `cpu` line of /proc/stat: steal is the 8th value. */
export function cpuSample(): CpuSample {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]
  const v = line.trim().split(/\s+/).slice(1).map(Number)
  return { total: v.reduce((a, b) => a + b, 0), steal: v[7] ?? 0 }
}

/** Percent of all CPU time the hypervisor stole between two samples. */
export function stealPercent(a: CpuSample, b: CpuSample): number {
  const dt = b.total - a.total
  return dt > 0 ? (100 * (b.steal - a.steal)) / dt : 0
}

/** CPU seconds used by a set of processes, sampled as one figure. */
export function groupCpu(pids: readonly number[]): number {
  let s = 0
  for (const p of pids) s += cpuSeconds(p)
  return s
}

/** One counter of /proc/<pid>/io, or 0 when unreadable (the process is gone). */
function ioCounter(pid: number, name: 'wchar' | 'syscw'): number {
  try {
    const m = new RegExp(`^${name}: (\\d+)$`, 'm').exec(readFileSync(`/proc/${pid}/io`, 'utf8'))
    return m ? Number(m[1]) : 0
  } catch {
    return 0
  }
}

/**
 * Bytes the processes handed to write-family syscalls (`wchar`: sockets included): a server's
 * bytes on the wire, give or take its log lines.
 */
export function groupWritten(pids: readonly number[]): number {
  let s = 0
  for (const p of pids) s += ioCounter(p, 'wchar')
  return s
}

/** Write-family syscalls the processes made (`syscw`): how well a server's writes batch. */
export function groupWriteCalls(pids: readonly number[]): number {
  let s = 0
  for (const p of pids) s += ioCounter(p, 'syscw')
  return s
}

export function groupRss(pids: readonly number[]): number {
  let s = 0
  for (const p of pids) s += rssBytes(p)
  return s
}
