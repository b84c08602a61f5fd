import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { decodeCommand, decodeHistory, ProtocolError } from '../../src/protocol/codec.js'
import { parseIdentifier, publicIdentifier, signedIdentifier } from '../../src/protocol/identifier.js'
import { jsonTooDeep } from '../../src/protocol/json-depth.js'
import { anyText, outcome, RUNS, syntaxText } from './settings.js'

// Action Cable commands and identifiers, as any client may send them: decoding either yields a
// well-formed command or throws ProtocolError (which the connection turns into invalid_command),
// never anything else, at any size or depth.

const LIMITS = { maxDepth: 64, maxIdentifierLength: 1024 }
const COMMANDS = ['subscribe', 'unsubscribe', 'message', 'history', 'whisper', 'ping', 'pong']

/** A command-shaped object with fields of any JSON type: most near misses of a real command. */
const commandish = fc.record({
  command: fc.oneof(fc.constantFrom(...COMMANDS), fc.jsonValue()),
  identifier: fc.oneof(fc.string({ maxLength: 40 }), fc.jsonValue({ maxDepth: 2 })),
  data: fc.oneof(fc.string({ maxLength: 40 }), fc.jsonValue({ maxDepth: 2 })),
  history: fc.oneof(
    fc.record({
      since: fc.oneof(fc.double(), fc.integer(), fc.string({ maxLength: 5 })),
      streams: fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(
        fc.record({ offset: fc.oneof(fc.integer({ min: -5, max: 1e6 }), fc.double(), fc.string({ maxLength: 3 })), epoch: fc.oneof(fc.string({ maxLength: 6 }), fc.integer()) }, { requiredKeys: [] }),
        fc.jsonValue({ maxDepth: 1 }),
      ), { maxKeys: 3 }),
    }, { requiredKeys: [] }),
    fc.jsonValue({ maxDepth: 2 }),
  ),
}, { requiredKeys: [] })

/** JSON nested `depth` levels (arrays or objects), possibly unclosed. */
const nested = fc.record({ depth: fc.integer({ min: 0, max: 6000 }), closed: fc.boolean(), object: fc.boolean() })
  .map(({ depth, closed, object }) => {
    const open = object ? '{"a":' : '['
    const close = object ? '}' : ']'
    return `{"command":"ping","x":${open.repeat(depth)}1${closed ? close.repeat(depth) : ''}}`
  })

function checkDecoded(text: string): void {
  const r = outcome(() => decodeCommand(text, LIMITS))
  if (!r.ok) {
    assert.ok(r.err instanceof ProtocolError, `threw ${String(r.err)} for ${JSON.stringify(text).slice(0, 200)}`)
    assert.ok((r.err as Error).message.length > 0)
    return
  }
  const c = r.value
  assert.ok(COMMANDS.includes(c.command))
  if ('identifier' in c) {
    assert.equal(typeof c.identifier, 'string')
    assert.ok(c.identifier.length <= LIMITS.maxIdentifierLength)
  }
  if (c.command === 'message') assert.equal(typeof c.data, 'string')
  if ('history' in c && c.history?.streams) {
    for (const p of Object.values(c.history.streams)) {
      assert.ok(Number.isInteger(p.offset) && p.offset >= 0)
      assert.equal(typeof p.epoch, 'string')
    }
  }
}

test('decodeCommand: any text gives a command or a ProtocolError', () => {
  fc.assert(fc.property(fc.oneof(anyText(), syntaxText(['{', '}', '[', ']', '"', ':', ',', '\\', 'command', 'subscribe', 'identifier', 'null'])), (text) => checkDecoded(text)), RUNS)
})

test('decodeCommand: command-shaped JSON gives a well-formed command or a ProtocolError', () => {
  fc.assert(fc.property(commandish, (obj) => checkDecoded(JSON.stringify(obj))), RUNS)
})

test('decodeCommand: nesting of any depth, closed or not, never overflows; over the limit it is a ProtocolError naming it', () => {
  fc.assert(fc.property(nested, (text) => {
    checkDecoded(text)
    if (jsonTooDeep(text, LIMITS.maxDepth)) assert.throws(() => decodeCommand(text, LIMITS), /--max-json-depth/)
  }), { ...RUNS, numRuns: 150 })
})

test('decodeHistory: any JSON value gives positions that are non-negative integers with string epochs, or a ProtocolError', () => {
  fc.assert(fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => {
    const r = outcome(() => decodeHistory(v))
    if (!r.ok) return assert.ok(r.err instanceof ProtocolError, String(r.err))
    for (const p of Object.values(r.value.streams ?? {})) assert.ok(Number.isSafeInteger(p.offset) && p.offset >= 0 && typeof p.epoch === 'string')
    if (r.value.since !== undefined) assert.ok(Number.isFinite(r.value.since))
  }), RUNS)
})

test('parseIdentifier: never throws; a public or signed name round-trips through the identifiers @anycable/core builds', () => {
  fc.assert(fc.property(fc.oneof(anyText(), fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v))), (text) => {
    const r = outcome(() => parseIdentifier(text))
    assert.ok(r.ok, `threw for ${JSON.stringify(text)}`)
    if (r.value) assert.ok(['public', 'signed', 'other'].includes(r.value.kind))
  }), RUNS)
  fc.assert(fc.property(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 60 }), (name) => {
    assert.deepEqual(parseIdentifier(publicIdentifier(name)), { kind: 'public', stream: name })
    assert.deepEqual(parseIdentifier(signedIdentifier(name)), { kind: 'signed', signed: name })
  }), RUNS)
})

test('jsonTooDeep agrees with the real depth of any JSON value', () => {
  const depthOf = (v: unknown): number => (typeof v === 'object' && v !== null ? 1 + Math.max(0, ...Object.values(v).map(depthOf)) : 0)
  fc.assert(fc.property(fc.jsonValue({ maxDepth: 12 }), fc.integer({ min: 0, max: 12 }), (v, limit) => {
    assert.equal(jsonTooDeep(JSON.stringify(v), limit), depthOf(v) > limit)
  }), RUNS)
})
