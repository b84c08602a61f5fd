import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { signStream, verifySignedStream } from '../../src/auth/signed-stream.js'
import { HeraldConfigError, kebab, envName, loadConfig, parseArgv } from '../../src/config/load.js'
import { configSchema } from '../../src/config/schema.js'
import { anyText, outcome, RUNS, syntaxText } from './settings.js'

// Signed stream names (AnyCable / Rails MessageVerifier) and configuration values (CLI flags and
// HERALD_* variables): verifying never throws (a bad name is undefined, never a crash), and any
// command line or environment gives a frozen configuration or one HeraldConfigError listing
// every problem.

const SECRET = 'property-secret'

test('verifySignedStream: any string is a stream name or undefined, never a throw', () => {
  fc.assert(fc.property(fc.oneof(anyText(), syntaxText(['--', '=', 'ey', 'Ig', 'IiI', '0', 'a', 'f', '"'])), fc.string({ maxLength: 20 }), (signed, secret) => {
    const r = outcome(() => verifySignedStream(signed, secret))
    assert.ok(r.ok, `threw ${r.ok || String(r.err)}`)
    assert.ok(r.value === undefined || typeof r.value === 'string')
  }), RUNS)
})

test('a signed name verifies to its stream for any name; any change to it or a wrong secret fails', () => {
  fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 60 }), fc.nat(), fc.string({ minLength: 1, maxLength: 20 }), (stream, at, other) => {
    const signed = signStream(stream, SECRET)
    assert.equal(verifySignedStream(signed, SECRET), stream)
    if (other !== SECRET) assert.equal(verifySignedStream(signed, other), undefined)
    const i = at % signed.length
    const flipped = signed.slice(0, i) + (signed[i] === 'A' ? 'B' : 'A') + signed.slice(i + 1)
    // The base64 part may decode the same after a change to padding-free bits; then it is the same message.
    const v = verifySignedStream(flipped, SECRET)
    assert.ok(v === undefined || v === stream, `a changed signature verified as ${JSON.stringify(v)}`)
  }), RUNS)
})

const KEYS = Object.keys(configSchema.shape)
/** Values as a user might type them: numbers, booleans, JSON, junk, nothing. */
const value = fc.oneof(
  fc.constantFrom('0', '1', '-1', '0.5', '1e9', 'NaN', 'Infinity', 'true', 'false', 'yes', 'off', '', ' ', '[]', '[1]', '{}', 'null', 'memory', 'redis', 'json', 'pretty', '*'),
  fc.integer().map(String), fc.double().map(String), anyText(20),
)
const flag = fc.tuple(fc.constantFrom(...KEYS), value, fc.constantFrom('space', 'equals', 'bare', 'no')).map(([key, v, form]) => {
  const name = kebab(key)
  if (form === 'equals') return [`--${name}=${v}`]
  if (form === 'bare') return [`--${name}`]
  if (form === 'no') return [`--no-${name}`]
  return [`--${name}`, v]
})
const argv = fc.array(fc.oneof({ weight: 5, arbitrary: flag }, { weight: 1, arbitrary: fc.array(anyText(12), { maxLength: 2 }) }), { maxLength: 6 })
  .map((parts) => parts.flat().filter((a) => a !== '--config' && !a.startsWith('--config=')))
const env = fc.dictionary(fc.constantFrom(...KEYS.map(envName), 'HERALD_NOT_AN_OPTION'), value, { maxKeys: 4 })

test('loadConfig: any flags and HERALD_* variables give a frozen configuration or one HeraldConfigError', () => {
  fc.assert(fc.property(argv, env, (args, vars) => {
    const r = outcome(() => loadConfig({ argv: args, env: vars }))
    if (!r.ok) {
      assert.ok(r.err instanceof HeraldConfigError, `threw ${String(r.err)} for ${JSON.stringify([args, vars])}`)
      assert.ok(r.err.problems.length > 0 && r.err.problems.every((p) => typeof p === 'string' && p.length > 0))
      return
    }
    assert.ok(Object.isFrozen(r.value))
  }), { ...RUNS, numRuns: 300 })
})

test('parseArgv: never throws; what it cannot read becomes a problem line', () => {
  fc.assert(fc.property(fc.array(fc.oneof(anyText(20), syntaxText(['--', '=', 'no-', 'port', 'config', 'x'], 8)), { maxLength: 8 }), (args) => {
    const problems: string[] = []
    const r = outcome(() => parseArgv(args, problems))
    assert.ok(r.ok, `threw for ${JSON.stringify(args)}`)
  }), RUNS)
})
