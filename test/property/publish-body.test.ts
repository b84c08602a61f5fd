import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { HeraldError } from '../../src/errors.js'
import { broadcastBody, publications } from '../../src/server/publish-api.js'
import { outcome, RUNS } from './settings.js'

// POST /_broadcast's body check: valid bodies take a hand-written path, everything else goes to
// zod for the wording of the 400. Whatever a client sends, both must agree: the same bodies
// accepted (with the same publications, in order) and the same refused.

const stream = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('', 'x'.repeat(1024), 'x'.repeat(1025)), fc.integer(), fc.constant(null))
const value = fc.oneof(fc.constant(null), fc.string({ maxLength: 8 }), fc.integer(), fc.boolean(), fc.array(fc.integer(), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 3 }), fc.integer(), { maxKeys: 2 }))
const publication = fc.record(
  { stream, data: value, meta: fc.oneof(value, fc.constant([])), extra: value },
  { requiredKeys: [] },
)
const body = fc.oneof(
  { weight: 3, arbitrary: publication },
  { weight: 3, arbitrary: fc.array(publication, { maxLength: 4 }) },
  { weight: 1, arbitrary: value },
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.integer({ min: 999, max: 1001 }).map((n) => Array.from({ length: n }, (_, i) => ({ stream: `s${i}`, data: i }))) },
)

test('the hand-written check and zod accept and refuse the same /_broadcast bodies, with the same publications', () => {
  fc.assert(fc.property(body, (b) => {
    const mine = outcome(() => publications(b))
    const theirs = b === undefined ? { success: false as const } : broadcastBody.safeParse(b)
    assert.equal(mine.ok, theirs.success, JSON.stringify(b)?.slice(0, 300))
    if (!mine.ok) {
      assert.ok(HeraldError.is(mine.err) && mine.err.code === 'HERALD_ERR_BAD_REQUEST' && /: body/.test(mine.err.message))
      return
    }
    const want = theirs.success ? (Array.isArray(theirs.data) ? theirs.data : [theirs.data]) : []
    assert.deepEqual(mine.value.map((p) => [p.stream, p.data]), want.map((p) => [p.stream, p.data]))
  }), RUNS)
})

test('a refused body is worded by zod, naming the path of the problem', () => {
  const err = outcome(() => publications([{ stream: 'a', data: 1 }, { stream: '', data: 1 }]))
  assert.ok(!err.ok && HeraldError.is(err.err))
  assert.match((err.err as HeraldError).message, /body/)
  assert.deepEqual(publications({ stream: 'a', data: 'x', meta: { k: 1 }, other: true }).map((p) => p.stream), ['a'])
})
