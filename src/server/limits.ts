import { readFileSync } from 'node:fs'

/** The process's soft open-file limit, from /proc (Node has no getrlimit); undefined when unknown. */
export function openFileLimit(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'))
    const soft = line?.split(/\s{2,}/)[1]
    const n = Number(soft)
    return Number.isFinite(n) ? n : undefined
  } catch {
    return undefined
  }
}

/**
 * Default session limit, as libwebsockets derives it: the file-descriptor limit minus a reserve
 * for listeners, broker connections, logs and HTTP requests (5%, at least 64).
 */
export function defaultMaxSessions(): number {
  const limit = openFileLimit() ?? 1024
  return Math.max(1, limit - Math.max(64, Math.ceil(limit * 0.05)))
}
