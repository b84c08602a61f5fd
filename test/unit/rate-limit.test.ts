import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RateLimiter } from '../../src/auth/rate-limit.js'

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

test('a keyed limiter stays bounded: full buckets are swept, and at worst all are', () => {
  const l = new RateLimiter<string>({ ratePerSec: 1, burst: 1 }, false, 100)
  for (let i = 0; i < 1000; i++) l.take(`ip${i}`, 0)
  assert.ok(l.size <= 100)
  for (let i = 0; i < 1000; i++) l.take(`later${i}`, 10_000)
  assert.ok(l.size <= 100)
})

test('weak keys (connections)', () => {
  const l = new RateLimiter<object>({ ratePerSec: 1, burst: 2 }, true)
  const a = {}
  assert.deepEqual([l.take(a, 0), l.take(a, 0), l.take(a, 0)], [true, true, false])
  assert.equal(l.take({}, 0), true)
})
