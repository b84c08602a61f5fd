import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { decodeCommand, ProtocolError } from '../../src/protocol/codec.js'
import { DEFAULT_MAX_JSON_DEPTH, jsonTooDeep, valueTooDeep } from '../../src/protocol/json-depth.js'
import { canonicalData, JsonTooDeep, replies } from '../../src/protocol/messages.js'

// The JSON depth limit (`--max-json-depth`) and the identifier length limit
// (`--max-identifier-length`) as a client or a publisher meets them: what is refused, what is
// not, and what the refusal says.

const nest = (depth: number, open = '[', close = ']') => `${open.repeat(depth)}${close.repeat(depth)}`

describe('jsonTooDeep', () => {
  test('exactly the limit is accepted, one level more is refused, for arrays and objects alike', () => {
    assert.equal(jsonTooDeep(nest(3), 3), false)
    assert.equal(jsonTooDeep(nest(4), 3), true)
    assert.equal(jsonTooDeep('{"a":{"b":{"c":1}}}', 3), false)
    assert.equal(jsonTooDeep('{"a":{"b":{"c":{}}}}', 3), true)
    assert.equal(jsonTooDeep('[{"a":[1]}]', 3), false)
    assert.equal(jsonTooDeep('[{"a":[[1]]}]', 3), true)
  })

  test('depth is nesting, not the number of brackets: siblings close what they open', () => {
    assert.equal(jsonTooDeep('[[1],[2],[3],[4],[5]]', 2), false)
    assert.equal(jsonTooDeep('{"a":{},"b":{},"c":{},"d":{"e":1}}', 2), false)
    assert.equal(jsonTooDeep('[[1],[2],[[3]]]', 2), true)
  })

  test('brackets inside strings do not count, escaped quotes included', () => {
    assert.equal(jsonTooDeep('["[[[[[[{{{{{"]', 1), false)
    assert.equal(jsonTooDeep('["a \\" [[[[[ still in the string"]', 1), false)
    assert.equal(jsonTooDeep('["\\\\", [[1]]]', 2), true, 'an escaped backslash ends before the quote: the string ends there')
    assert.equal(jsonTooDeep('"[[[["', 0), false)
  })

  test('a string at the very start hides its brackets too (not valid JSON, but the verdict must not change)', () => {
    assert.equal(jsonTooDeep('"{"[', 1), false)
    assert.equal(jsonTooDeep('"["{', 1), false)
    assert.equal(jsonTooDeep('"}"[[', 1), true)
    assert.equal(jsonTooDeep('"]"[[', 1), true)
    assert.equal(jsonTooDeep('""[[', 1), true, 'an empty string closes at once')
  })

  test('scalars have no depth', () => {
    assert.equal(jsonTooDeep('42', 0), false)
    assert.equal(jsonTooDeep('[]', 0), true)
  })
})

describe('valueTooDeep', () => {
  const deep = (depth: number): unknown => {
    let v: unknown = 1
    for (let i = 0; i < depth; i++) v = i % 2 === 0 ? [v] : { v }
    return v
  }

  test('exactly the limit is accepted, one level more is refused', () => {
    assert.equal(valueTooDeep(deep(5), 5), false)
    assert.equal(valueTooDeep(deep(6), 5), true)
  })

  test('siblings do not add up; only the deepest branch counts', () => {
    assert.equal(valueTooDeep({ a: [1], b: [2], c: { d: [3] } }, 3), false)
    assert.equal(valueTooDeep({ a: [1], b: [2], c: { d: [[3]] } }, 3), true)
    assert.equal(valueTooDeep([[1], [2], [3], [4]], 2), false)
  })

  test('scalars and null have no depth', () => {
    for (const v of [1, 'x', null, undefined, true]) assert.equal(valueTooDeep(v, 0), false)
    assert.equal(valueTooDeep({ a: null, b: 'x' }, 1), false)
    assert.equal(valueTooDeep({}, 0), true)
  })

  test('a value far deeper than JSON.stringify can handle is measured without overflowing', () => {
    assert.equal(valueTooDeep(deep(100_000), DEFAULT_MAX_JSON_DEPTH), true)
  })
})

describe('decodeCommand limits', () => {
  const limits = { maxDepth: 3, maxIdentifierLength: 12 }

  test('a command nested deeper than --max-json-depth is refused before it is parsed, naming the limit', () => {
    const deep = JSON.stringify({ command: 'whisper', identifier: 'x', data: [[[1]]] })
    assert.throws(() => decodeCommand(deep, limits), (err: unknown) =>
      err instanceof ProtocolError && err.message === 'nested deeper than 3 levels (--max-json-depth)')
    const ok = JSON.stringify({ command: 'whisper', identifier: 'x', data: [[1]] })
    assert.deepEqual(decodeCommand(ok, limits), { command: 'whisper', identifier: 'x', data: [[1]] })
  })

  test('an identifier longer than --max-identifier-length is refused; exactly the limit is accepted', () => {
    const at = 'i'.repeat(12)
    assert.deepEqual(decodeCommand(JSON.stringify({ command: 'subscribe', identifier: at }), limits), { command: 'subscribe', identifier: at })
    assert.throws(() => decodeCommand(JSON.stringify({ command: 'unsubscribe', identifier: `${at}i` }), limits), (err: unknown) =>
      err instanceof ProtocolError && err.message === 'identifier longer than 12 characters (--max-identifier-length)')
  })

  test('by default, 64 levels and 4096 characters', () => {
    const data = JSON.parse(nest(DEFAULT_MAX_JSON_DEPTH - 1))
    assert.equal(decodeCommand(JSON.stringify({ command: 'whisper', identifier: 'x', data })).command, 'whisper')
    assert.throws(() => decodeCommand(JSON.stringify({ command: 'whisper', identifier: 'x', data: [data] })), /deeper than 64 levels/)
    assert.equal(decodeCommand(JSON.stringify({ command: 'subscribe', identifier: 'i'.repeat(4096) })).command, 'subscribe')
    assert.throws(() => decodeCommand(JSON.stringify({ command: 'subscribe', identifier: 'i'.repeat(4097) })), /longer than 4096/)
  })

  test('commands without an identifier are not measured for one', () => {
    assert.deepEqual(decodeCommand('{"command":"ping"}', limits), { command: 'ping' })
  })
})

describe('canonicalData depth', () => {
  test('published JSON text deeper than the limit is refused with JsonTooDeep naming it; at the limit it is kept', () => {
    assert.equal(canonicalData(nest(4), 4), '[[[[]]]]')
    assert.throws(() => canonicalData(nest(5), 4), (err: unknown) =>
      err instanceof JsonTooDeep && err.limit === 4 && err.name === 'JsonTooDeep' &&
      err.message === 'JSON nested deeper than 4 levels (--max-json-depth)')
  })

  test('the default limit is --max-json-depth\'s default', () => {
    assert.equal(canonicalData(nest(DEFAULT_MAX_JSON_DEPTH)), nest(DEFAULT_MAX_JSON_DEPTH))
    assert.throws(() => canonicalData(nest(DEFAULT_MAX_JSON_DEPTH + 1)), JsonTooDeep)
  })
})

describe('replies not covered by the byte-for-byte table', () => {
  test('a rejection may say why; a disconnect says whether to come back', () => {
    assert.deepEqual(JSON.parse(replies.reject('i', 'bad stream signature').json),
      { type: 'reject_subscription', identifier: 'i', reason: 'bad stream signature' })
    const bye = replies.disconnect('server_restart', true)
    assert.ok(bye.type === 'disconnect' && bye.reconnect === true)
    assert.equal(bye.json, '{"type":"disconnect","reason":"server_restart","reconnect":true}')
    const no = replies.disconnect('unauthorized', false)
    assert.ok(no.type === 'disconnect' && no.reconnect === false)
    assert.equal(no.json, '{"type":"disconnect","reason":"unauthorized","reconnect":false}')
  })

  test('each reply names its own type', () => {
    assert.equal(replies.welcome('s').type, 'welcome')
    assert.equal(replies.ping(1).type, 'ping')
    assert.equal(replies.pong().type, 'pong')
    assert.equal(replies.confirm('i').type, 'confirm_subscription')
    assert.equal(replies.reject('i').type, 'reject_subscription')
    assert.equal(replies.confirmHistory('i').type, 'confirm_history')
    assert.equal(replies.rejectHistory('i').type, 'reject_history')
  })
})
