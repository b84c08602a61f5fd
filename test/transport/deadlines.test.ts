import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Deadlines } from '../../src/transport/deadlines.js'
import { until } from '../support/util.js'

/**
 * A clock the test moves. With Date.now, deadlines added one after another are only "in order"
 * if no millisecond passes between the adds; on a loaded machine one did (fired 10, 30, 20, 40).
 */
function testClock(start = 1_000_000) {
  const clock = { now: start, advanceTo: (ms: number) => { clock.now = start + ms } }
  return clock
}

test('Deadlines: fires in deadline order from one heap; cancel removes at once, from any position', async () => {
  const clock = testClock()
  const d = new Deadlines(() => clock.now)
  const fired: number[] = []
  const entries = [30, 10, 50, 20, 40].map((ms) => d.add(ms, () => fired.push(ms)))
  assert.equal(d.size, 5)
  d.cancel(entries[2]) // 50, from the middle of the heap
  d.cancel(entries[2]) // twice is harmless
  assert.equal(d.size, 4)
  clock.advanceTo(25) // the timer fires when it does; only what is due by the clock goes
  await until(() => fired.length === 2, 'the two due by 25 ms')
  assert.deepEqual(fired, [10, 20])
  clock.advanceTo(100)
  await until(() => d.size === 0, 'all fired')
  assert.deepEqual(fired, [10, 20, 30, 40])
  d.cancel(entries[0]) // fired already: ignored
  assert.equal(d.size, 0)
})

/** mulberry32: a small seeded PRNG, so a failing sequence can be replayed. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

test('Deadlines: many random adds and cancels keep the heap consistent', async (t) => {
  // HERALD_TEST_SEED=<n> replays a run; the seed used is printed either way.
  const seed = process.env.HERALD_TEST_SEED ? Number(process.env.HERALD_TEST_SEED) : Math.floor(Math.random() * 2 ** 32)
  assert.ok(Number.isSafeInteger(seed), `HERALD_TEST_SEED must be an integer, got ${process.env.HERALD_TEST_SEED}`)
  t.diagnostic(`seed ${seed} (HERALD_TEST_SEED=${seed} replays it)`)
  const random = seededRandom(seed)
  const d = new Deadlines()
  const fired: number[] = []
  const live = new Set<number>()
  const all = Array.from({ length: 200 }, (_, i) => {
    live.add(i)
    return d.add(Math.floor(random() * 40), () => fired.push(i))
  })
  for (let i = 0; i < 200; i += 3) { d.cancel(all[i]); live.delete(i) }
  assert.equal(d.size, live.size)
  await until(() => d.size === 0, 'all fired')
  assert.deepEqual(new Set(fired), live)
  const at = fired.map((i) => all[i].at)
  assert.deepEqual(at, [...at].sort((a, b) => a - b), `in deadline order (seed ${seed})`)
  d.close()
})

test('Deadlines: lanes fire in order with the heap, cancel from any position, and count in size', async () => {
  const clock = testClock()
  const d = new Deadlines(() => clock.now)
  const fired: string[] = []
  const fast = d.lane(10)
  const slow = d.lane(30)
  assert.equal(d.lane(10), fast, 'one lane per delay')
  const a = fast.add((s) => fired.push(s), 'fast-a')
  const b = fast.add((s) => fired.push(s), 'fast-b')
  fast.add((s) => fired.push(s), 'fast-c')
  slow.add((s) => fired.push(s), 'slow')
  d.add(20, () => fired.push('heap-20'))
  d.add(0, (s) => fired.push(s), 'heap-0')
  assert.equal(d.size, 6)
  d.cancel(b) // from the middle of a lane
  d.cancel(b)
  assert.equal(d.size, 5)
  clock.advanceTo(15)
  await until(() => fired.length === 3, 'the three due by 15 ms')
  assert.deepEqual(fired, ['heap-0', 'fast-a', 'fast-c'])
  clock.advanceTo(100)
  await until(() => d.size === 0, 'all fired')
  assert.deepEqual(fired, ['heap-0', 'fast-a', 'fast-c', 'heap-20', 'slow'])
  d.cancel(a) // fired already: ignored
  assert.equal(d.size, 0)
  const late = slow.add(() => fired.push('closed'), undefined)
  d.close()
  assert.equal(d.size, 0)
  d.cancel(late)
  clock.advanceTo(1000) // long past its deadline
  await new Promise((r) => setTimeout(r, 50))
  assert.equal(fired.includes('closed'), false, 'close drops lane entries')
})
