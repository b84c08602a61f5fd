import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { jsonTooDeep } from '../../src/protocol/json-depth.js'
import { RUNS } from './settings.js'

// jsonTooDeep jumps between structural characters with indexOf. Whatever the text (valid JSON or
// not, strings with escapes, unbalanced brackets), its verdict must be the one of the plain
// definition: read every character, skip strings (a backslash escapes the next character), count
// nesting, and say whether it ever goes deeper than the limit.
function reference(text: string, limit: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (inString) {
      if (c === '\\') i++
      else if (c === '"') inString = false
    } else if (c === '"') inString = true
    else if (c === '[' || c === '{') {
      if (++depth > limit) return true
    } else if (c === ']' || c === '}') depth--
  }
  return false
}

const structural = fc.constantFrom('[', ']', '{', '}', '"', '\\', 'a', ',', ':', ' ')
const text = fc.oneof(
  fc.array(structural, { maxLength: 60 }).map((cs) => cs.join('')),
  fc.json({ depthSize: 'medium' }),
  // Valid JSON whose strings hold brackets, quotes and backslashes.
  fc.jsonValue().map((v) => JSON.stringify([v, '[[{{"\\\\', { k: '"]]}' }])),
  // Valid JSON whose every string is made of them (a bracket right at a string's either end, say).
  fc.jsonValue({ stringUnit: fc.constantFrom('[', ']', '{', '}', '"', '\\', 'a'), maxDepth: 8 }).map((v) => JSON.stringify(v)),
)

test('jsonTooDeep gives the verdict of the character-by-character definition on any text', () => {
  fc.assert(fc.property(text, fc.integer({ min: 0, max: 6 }), (t, limit) => {
    assert.equal(jsonTooDeep(t, limit), reference(t, limit), `${JSON.stringify(t)} at limit ${limit}`)
  }), RUNS)
})

test('jsonTooDeep stays linear on text built to make a cursor search far ahead again and again', () => {
  // 200,000 objects and one array at the very end: a walk that searched for the next '[' afresh
  // after every '{' would read the text 200,000 times over and not finish within the test's time.
  const text = `[${'{"a":"x"},'.repeat(200_000)}[1]]`
  assert.equal(jsonTooDeep(text, 2), false)
  assert.equal(jsonTooDeep(`${text.slice(0, -1)},[[[1]]]]`, 2), true)
})
