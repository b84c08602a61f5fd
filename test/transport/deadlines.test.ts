import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Deadlines } from '../../src/transport/deadlines.js'
import { until } from '../support/util.js'

test('Deadlines: fires in deadline order from one heap; cancel removes at once, from any position', async () => {
  // All added at one instant: on a loaded machine the clock could move between two adds by more
  // than the 10 ms that separate their deadlines, and the order asked for would be wrong.
  let frozen: number | undefined = Date.now()
  const d = new Deadlines(() => frozen ?? Date.now())
  const fired: number[] = []
  const entries = [30, 10, 50, 20, 40].map((ms) => d.add(ms, () => fired.push(ms)))
  frozen = undefined
  assert.equal(d.size, 5)
  d.cancel(entries[2]) // 50, from the middle of the heap
  d.cancel(entries[2]) // twice is harmless
  assert.equal(d.size, 4)
  await until(() => d.size === 0, 'all fired')
  assert.deepEqual(fired, [10, 20, 30, 40])
  d.cancel(entries[0]) // fired already: ignored
  assert.equal(d.size, 0)
})

test('Deadlines: many random adds and cancels keep the heap consistent', async () => {
  const d = new Deadlines()
  const fired: number[] = []
  const live = new Set<number>()
  const all = Array.from({ length: 200 }, (_, i) => {
    live.add(i)
    return d.add(Math.floor(Math.random() * 40), () => fired.push(i))
  })
  for (let i = 0; i < 200; i += 3) { d.cancel(all[i]); live.delete(i) }
  assert.equal(d.size, live.size)
  await until(() => d.size === 0, 'all fired')
  assert.deepEqual(new Set(fired), live)
  const at = fired.map((i) => all[i].at)
  assert.deepEqual(at, [...at].sort((a, b) => a - b), 'in deadline order')
  d.close()
})

test('Deadlines: lanes fire in order with the heap, cancel from any position, and count in size', async () => {
  const d = new Deadlines()
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
  await until(() => d.size === 0, 'all fired')
  assert.deepEqual(fired, ['heap-0', 'fast-a', 'fast-c', 'heap-20', 'slow'])
  d.cancel(a) // fired already: ignored
  assert.equal(d.size, 0)
  const late = slow.add(() => fired.push('closed'), undefined)
  d.close()
  assert.equal(d.size, 0)
  d.cancel(late)
  await new Promise((r) => setTimeout(r, 50))
  assert.equal(fired.includes('closed'), false, 'close drops lane entries')
})
