import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { HeraldError } from '../../src/errors.js'
import type { HttpRequest } from '../../src/http/body.js'
import { parseSseId, sseId } from '../../src/framing/sse-frame.js'
import { splitLines } from '../../src/framing/ndjson.js'
import { lastEventId } from '../../src/transport/sse.js'
import { identifierParam, positionParam, sinceParam } from '../../src/transport/stream-open.js'
import { subscribeLines } from '../../src/transport/subscribe-lines.js'
import { anyText, outcome, RUNS, syntaxText } from './settings.js'

// What HTTP clients send: Last-Event-ID, the after/epoch/history_since/stream query parameters,
// and JSON Lines bodies (long polling, POST /events, POST /stream). Each parser yields a value of
// the documented shape or throws a HeraldError (a 400 with a reason), never anything else.

const LIMITS = { maxDepth: 64, maxIdentifierLength: 1024 }

function onlyHeraldError<T>(fn: () => T, input: unknown): T | undefined {
  const r = outcome(fn)
  if (r.ok) return r.value
  assert.ok(HeraldError.is(r.err), `threw ${String(r.err)} for ${JSON.stringify(input)?.slice(0, 200)}`)
  assert.equal((r.err as HeraldError).status, 400)
  return undefined
}

const request = (lastId: string) => ({ headers: { 'last-event-id': lastId } }) as unknown as HttpRequest

test('Last-Event-ID: any header value gives one stream position (a safe non-negative offset) or a 400', () => {
  fc.assert(fc.property(fc.oneof(anyText(), syntaxText(['/', '0', '1', '9', '-', ' ', 'e', '\n', '99999999999999999999'])), (value) => {
    const history = onlyHeraldError(() => lastEventId(request(value)), value)
    if (!history) return
    const streams = Object.entries(history.streams ?? {})
    assert.equal(streams.length, 1)
    const [stream, p] = streams[0]
    assert.ok(stream.length > 0 && Number.isSafeInteger(p.offset) && p.offset >= 0 && p.epoch.length > 0 && !p.epoch.includes('/'))
  }), RUNS)
})

test('an SSE id round-trips through Last-Event-ID for any stream name (slashes included)', () => {
  fc.assert(fc.property(fc.nat(), fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }).filter((s) => s.trim() === s), (offset, epoch, stream) => {
    assert.deepEqual(parseSseId(sseId({ offset, epoch, stream } as never)), { offset, epoch, stream })
  }), RUNS)
})

/** A query string from the parameters the stream transports read, with any values. */
const query = fc.dictionary(
  fc.constantFrom('after', 'epoch', 'history_since', 'stream', 'signed_stream', 'identifier', 'turbo_signed_stream_name', 'x'),
  fc.oneof(anyText(20), fc.integer().map(String), fc.double().map(String), fc.constantFrom('', '0', '-1', '1e3', ' 5', '0x10', '999999999999999999')),
  { maxKeys: 5 },
).map((params) => new URL(`http://h.invalid/stream?${new URLSearchParams(params)}`))

test('after/epoch: a position for the stream (a non-negative integer offset and an epoch) or a 400', () => {
  fc.assert(fc.property(query, fc.option(fc.string({ maxLength: 10 }), { nil: undefined }), (url, stream) => {
    const h = onlyHeraldError(() => positionParam(url, stream), url.search)
    const p = h?.streams && Object.values(h.streams)[0]
    if (p) assert.ok(Number.isSafeInteger(p.offset) && p.offset >= 0 && p.epoch.length > 0)
  }), RUNS)
})

test('history_since: a finite, non-negative number of seconds or a 400', () => {
  fc.assert(fc.property(query, (url) => {
    const since = onlyHeraldError(() => sinceParam(url), url.search)
    if (since !== undefined) assert.ok(Number.isFinite(since) && since >= 0)
  }), RUNS)
})

test('identifier / stream / signed_stream: a non-empty identifier or a 400', () => {
  fc.assert(fc.property(query, (url) => {
    const id = onlyHeraldError(() => identifierParam(url), url.search)
    if (id !== undefined) assert.ok(typeof id === 'string' && id.length > 0)
  }), RUNS)
})

/** JSON Lines bodies: real subscribe lines, near misses and junk, joined with LF or CRLF. */
const line = fc.oneof(
  fc.string({ maxLength: 30 }).map((stream) => JSON.stringify({ command: 'subscribe', identifier: JSON.stringify({ channel: '$pubsub', stream_name: stream }) })),
  fc.record({ command: fc.constantFrom('subscribe', 'unsubscribe', 'ping', 'message'), identifier: fc.oneof(fc.string({ maxLength: 20 }), fc.integer()), history: fc.jsonValue({ maxDepth: 3 }) }, { requiredKeys: ['command'] }).map((o) => JSON.stringify(o)),
  anyText(60),
  fc.integer({ min: 0, max: 3000 }).map((d) => `{"command":"subscribe","identifier":"{}","history":${'['.repeat(d)}`),
)
const body = fc.tuple(fc.array(line, { maxLength: 12 }), fc.constantFrom('\n', '\r\n'), fc.boolean())
  .map(([lines, eol, trailing]) => lines.join(eol) + (trailing ? eol : ''))

test('JSON Lines bodies (POST /events, POST /stream): subscriptions with string identifiers, or a 400', () => {
  fc.assert(fc.property(body, (text) => {
    const subs = onlyHeraldError(() => subscribeLines(Buffer.from(text), LIMITS), text)
    if (!subs) return
    assert.ok(subs.length > 0 && subs.length === splitLines(text).length)
    for (const s of subs) assert.ok(typeof s.identifier === 'string' && s.identifier.length <= LIMITS.maxIdentifierLength)
  }), RUNS)
})

test('splitLines (long-poll bodies): never an empty or blank line, never a line break inside one', () => {
  fc.assert(fc.property(fc.oneof(body, anyText(300)), (text) => {
    for (const l of splitLines(text)) {
      assert.ok(l.trim() !== '')
      assert.ok(!l.includes('\n'))
    }
  }), RUNS)
})
