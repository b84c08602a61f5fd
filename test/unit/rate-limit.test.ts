import assert from 'node:assert/strict'
import { test } from 'node:test'
import { checkApiRate, RateLimiter } from '../../src/auth/rate-limit.js'
import { HeraldError } from '../../src/errors.js'

test('a bucket allows its burst at once, then the rate; an idle key refills to the burst only', () => {
  const l = new RateLimiter<string>({ ratePerSec: 10, burst: 5 })
  const t0 = 1_000_000
  assert.deepEqual(Array.from({ length: 6 }, () => l.take('a', t0)), [true, true, true, true, true, false])
  assert.equal(l.take('b', t0), true, 'keys are apart')
  assert.equal(l.take('a', t0 + 99), false, 'less than one token after 99 ms at 10/s')
  assert.equal(l.take('a', t0 + 100), true)
  assert.equal(l.retryAfterSec('a', t0 + 100), 1)
  assert.deepEqual(Array.from({ length: 6 }, () => l.take('a', t0 + 60_000)), [true, true, true, true, true, false], 'never more than the burst')
})

test('rate 0 is no limit; the default burst is twice the rate', () => {
  const off = new RateLimiter<string>({ ratePerSec: 0 })
  assert.ok(Array.from({ length: 10_000 }, () => off.take('x')).every(Boolean))
  assert.equal(new RateLimiter<string>({ ratePerSec: 3 }).burst, 6)
  assert.equal(new RateLimiter<string>({ ratePerSec: 0.2 }).burst, 1)
})

test('a keyed limiter stays bounded: at maxKeys a new key sweeps out the full buckets, and all of them when none is full', () => {
  // 2 a second, bursts of 4: a key that took one token is full again half a second later.
  const l = new RateLimiter<string>({ ratePerSec: 2, burst: 4 }, false, 3)
  for (const key of ['a', 'b', 'c']) l.take(key, 0)
  l.take('d', 0)
  assert.equal(l.size, 1, 'nothing was full at 0 ms: every key forgotten, then d')
  l.take('e', 0)
  l.take('f', 0)
  assert.equal(l.size, 3)
  // At 10 s d, e and f are full again; g, taken at 9.5 s, exactly full at 10 s; h, at 9.9 s, not.
  l.take('g', 9_500)
  assert.equal(l.size, 1, 'g swept d, e and f out, which were full')
  l.take('h', 9_900)
  l.take('i', 9_900)
  assert.equal(l.size, 3)
  l.take('j', 10_000)
  assert.equal(l.size, 3, 'g (exactly full) swept out; h and i kept; j added')
  assert.equal(l.take('h', 10_000), true)
  assert.equal(l.take('j', 10_000), true)
})

test('below maxKeys a new key sweeps nothing', () => {
  const l = new RateLimiter<string>({ ratePerSec: 2, burst: 4 }, false, 100)
  l.take('a', 0)
  l.take('b', 10_000)
  assert.equal(l.size, 2)
})

test('Retry-After: the whole seconds until the key has a token again, at least 1', () => {
  const l = new RateLimiter<string>({ ratePerSec: 0.25, burst: 1 })
  assert.equal(l.take('a', 0), true)
  assert.equal(l.take('a', 0), false)
  assert.equal(l.retryAfterSec('a', 0), 4)
  assert.equal(l.retryAfterSec('a', 2_000), 2, 'half a token back after 2 s at 0.25/s')
  assert.equal(l.retryAfterSec('a', 3_999), 1)
  assert.equal(l.retryAfterSec('unknown', 0), 1)
  assert.equal(new RateLimiter<string>({ ratePerSec: 0 }).retryAfterSec('a', 0), 1)
})

test('enabled: only a positive rate limits', () => {
  assert.equal(new RateLimiter<string>({ ratePerSec: 0 }).enabled, false)
  assert.equal(new RateLimiter<string>({ ratePerSec: 0.1 }).enabled, true)
})

test('weak keys (connections)', () => {
  const l = new RateLimiter<object>({ ratePerSec: 1, burst: 2 }, true)
  const a = {}
  assert.deepEqual([l.take(a, 0), l.take(a, 0), l.take(a, 0)], [true, true, false])
  assert.equal(l.take({}, 0), true)
})

test('the publish and jobs APIs are limited per Authorization key, else per address, each in a bucket of its own', () => {
  const l = new RateLimiter<string>({ ratePerSec: 1, burst: 1 })
  const over = (what: string) => (err: unknown) => err instanceof HeraldError && err.code === 'HERALD_ERR_RATE_LIMITED'
    && err.message.endsWith(`more than 1 API requests a second from this ${what} (--rate-api-requests)`) && err.retryAfterSec === 1
  checkApiRate(l, {}, '10.0.0.1')
  assert.throws(() => checkApiRate(l, {}, '10.0.0.1'), over('address'))
  checkApiRate(l, {}, '10.0.0.2')
  checkApiRate(l, { authorization: 'Bearer one' }, '10.0.0.1')
  assert.throws(() => checkApiRate(l, { authorization: 'Bearer one' }, '10.0.0.2'), over('key'), 'the key, wherever it comes from')
  checkApiRate(l, { authorization: ['Bearer two', 'Bearer one'] }, '10.0.0.1')
  checkApiRate(new RateLimiter<string>({ ratePerSec: 0 }), {}, '10.0.0.1')
})
