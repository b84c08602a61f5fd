import { createHmac } from 'node:crypto'
import { setImmediate as turn } from 'node:timers/promises'
import type { TestHerald } from './herald.js'

// The wire formats the tests speak, written out here rather than taken from src/, so the tests
// keep their own idea of the protocol (and keep working when src/ moves).

/** AnyCable's `$pubsub` identifier for an unsigned stream name (needs --public-streams). */
export const publicId = (stream: string) => JSON.stringify({ channel: '$pubsub', stream_name: stream })

/** AnyCable's `$pubsub` identifier for a signed stream name. */
export const signedId = (signed: string) => JSON.stringify({ channel: '$pubsub', signed_stream_name: signed })

/** A subscribe command line. */
export const subscribeLine = (identifier: string) => JSON.stringify({ command: 'subscribe', identifier })

const HASH = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' } as const

/**
 * A compact JWS (RFC 7515) over `claims`, HMAC-signed with `hash` (default: the one `alg`
 * names). `alg` may name anything, to build tokens a verifier must refuse.
 */
export function jwt(claims: Record<string, unknown>, secret: string, alg = 'HS256', hash: string = HASH[alg as keyof typeof HASH] ?? 'sha256'): string {
  const head = Buffer.from(JSON.stringify({ alg, typ: 'JWT' })).toString('base64url')
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url')
  const sig = createHmac(hash, secret).update(`${head}.${body}`).digest('base64url')
  return `${head}.${body}.${sig}`
}

/**
 * Publishes 16 KiB messages to `stream`, `perTurn` per event-loop turn as a real publisher would,
 * until `done()` (a reader was dropped, say). Kernel socket buffers on loopback take megabytes
 * before Node sees backpressure, so this may take a few hundred messages; 256 MiB is the limit.
 */
export async function publishUntil(h: TestHerald, stream: string, done: () => boolean, what: string, perTurn = 8): Promise<number> {
  const pad = 'x'.repeat(16 * 1024)
  let published = 0
  while (!done()) {
    if (published * pad.length > 256 * 1024 * 1024) throw new Error(`256 MiB published without ${what}`)
    for (let i = 0; i < perTurn; i++) await h.herald.publish(stream, { n: ++published, pad })
    await turn()
  }
  return published
}
