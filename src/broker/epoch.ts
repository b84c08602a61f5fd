import { randomFillSync } from 'node:crypto'

/**
 * Makes epochs: random base64url strings of `bytes` random bytes, drawn 256 at a time (one
 * randomBytes call per new stream cost more than the rest of its first publish; bench jobs
 * profile: randomFillSync). An epoch changes whenever a stream's history was lost.
 */
export function epochSource(bytes: number): () => string {
  const pool = Buffer.alloc(bytes * 256)
  let used = pool.length
  return () => {
    if (used === pool.length) {
      randomFillSync(pool)
      used = 0
    }
    const start = used
    used += bytes
    return pool.toString('base64url', start, used)
  }
}
