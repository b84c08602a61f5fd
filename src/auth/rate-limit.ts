import { HeraldError } from '../errors.js'

/**
 * Token buckets, for the rate limits a public push server needs (new connections per IP,
 * commands per connection, publish and jobs API requests per key or IP). A bucket holds up to
 * `burst` tokens and gains `ratePerSec` a second; each event takes one, and an event that finds
 * none is over the limit. Buckets are refilled lazily when used: no timers.
 */
interface Bucket {
  tokens: number
  at: number
}

export interface RateLimitOptions {
  /** Events a second allowed on average; 0 = no limit. */
  ratePerSec: number
  /** Most events at once after a quiet spell (the bucket's size); default twice the rate, at least 1. */
  burst?: number
}

/** The limiter of one kind of event, keyed (by an IP, a key, or an object such as a connection). */
export class RateLimiter<K> {
  readonly ratePerSec: number
  readonly burst: number
  private readonly byKey: Map<K, Bucket> | WeakMap<object, Bucket>

  /**
   * `weak`: keys are objects that carry their bucket while they live (connections); otherwise a
   * Map, swept of full buckets so idle keys cost nothing for long (`maxKeys` caps it outright).
   */
  constructor(options: RateLimitOptions, weak = false, private readonly maxKeys = 100_000) {
    this.ratePerSec = options.ratePerSec
    this.burst = options.burst ?? Math.max(1, Math.ceil(options.ratePerSec * 2))
    this.byKey = weak ? new WeakMap() : new Map()
  }

  get enabled(): boolean {
    return this.ratePerSec > 0
  }

  /** Takes one token for `key`: true when allowed, false when over the limit. */
  take(key: K, now = Date.now()): boolean {
    if (this.ratePerSec <= 0) return true
    const map = this.byKey as Map<K, Bucket>
    let b = map.get(key)
    if (b === undefined) {
      if (map instanceof Map && map.size >= this.maxKeys) this.sweep(now)
      b = { tokens: this.burst, at: now }
      map.set(key, b)
    } else {
      b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.ratePerSec)
      b.at = now
    }
    if (b.tokens < 1) return false
    b.tokens -= 1
    return true
  }

  /** Seconds until `key` has a token again (for Retry-After), at least 1. */
  retryAfterSec(key: K, now = Date.now()): number {
    const b = (this.byKey as Map<K, Bucket>).get(key)
    if (!b || this.ratePerSec <= 0) return 1
    const tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.ratePerSec)
    return Math.max(1, Math.ceil((1 - tokens) / this.ratePerSec))
  }

  /** Keys held in a Map (not the weak kind). */
  get size(): number {
    return this.byKey instanceof Map ? this.byKey.size : 0
  }

  /** Forgets keys whose buckets are full again (they would start full anyway); all of them if that frees nothing. */
  private sweep(now: number): void {
    const map = this.byKey as Map<K, Bucket>
    for (const [key, b] of map) if (b.tokens + ((now - b.at) / 1000) * this.ratePerSec >= this.burst) map.delete(key)
    if (map.size >= this.maxKeys) map.clear()
  }
}

/**
 * The publish and jobs APIs' limit: requests per key (the `Authorization` header a publisher or
 * worker sends) or, without one, per IP. Over it: 429 with Retry-After.
 */
export function checkApiRate(limiter: RateLimiter<string>, headers: Readonly<Record<string, string | string[] | undefined>>, remote: string | undefined): void {
  if (!limiter.enabled) return
  const auth = headers.authorization
  const key = auth ? `key:${Array.isArray(auth) ? auth[0] : auth}` : `ip:${remote ?? ''}`
  if (limiter.take(key)) return
  throw new HeraldError('HERALD_ERR_RATE_LIMITED', `more than ${limiter.ratePerSec} API requests a second from this ${auth ? 'key' : 'address'} (--rate-api-requests)`, {
    retryAfterSec: limiter.retryAfterSec(key),
  })
}
