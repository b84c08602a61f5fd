import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { decodeCommand, decodeHistory, ProtocolError } from '../../src/protocol/codec.js'
import { canonicalData, replies, type StreamMessage } from '../../src/protocol/messages.js'
import { parseIdentifier, publicIdentifier, signedIdentifier } from '../../src/protocol/identifier.js'

describe('decodeCommand', () => {
  const id = publicIdentifier('chat/1')

  test('decodes every command the client sends', () => {
    assert.deepEqual(decodeCommand(JSON.stringify({ command: 'subscribe', identifier: id })), { command: 'subscribe', identifier: id })
    assert.deepEqual(decodeCommand(JSON.stringify({ command: 'unsubscribe', identifier: id })), { command: 'unsubscribe', identifier: id })
    assert.deepEqual(
      decodeCommand(JSON.stringify({ command: 'message', identifier: id, data: '{"action":"speak"}' })),
      { command: 'message', identifier: id, data: '{"action":"speak"}' },
    )
    assert.deepEqual(
      decodeCommand(JSON.stringify({ command: 'whisper', identifier: id, data: { typing: true } })),
      { command: 'whisper', identifier: id, data: { typing: true } },
    )
    assert.deepEqual(decodeCommand('{"command":"pong"}'), { command: 'pong' })
    assert.deepEqual(decodeCommand('{"command":"ping"}'), { command: 'ping' })
  })

  test('subscribe keeps its history request (the ext client always sends streams, often {})', () => {
    const cmd = decodeCommand(JSON.stringify({
      command: 'subscribe', identifier: id, history: { since: 1700000000, streams: { 'chat/1': { epoch: 'ab12', offset: 3 } } },
    }))
    assert.deepEqual(cmd, {
      command: 'subscribe', identifier: id, history: { since: 1700000000, streams: { 'chat/1': { epoch: 'ab12', offset: 3 } } },
    })
    assert.deepEqual(decodeCommand(JSON.stringify({ command: 'subscribe', identifier: id, history: { streams: {} } })),
      { command: 'subscribe', identifier: id, history: { streams: {} } })
    // null history is the same as none
    assert.deepEqual(decodeCommand(JSON.stringify({ command: 'subscribe', identifier: id, history: null })),
      { command: 'subscribe', identifier: id })
  })

  test('history command', () => {
    assert.deepEqual(
      decodeCommand(JSON.stringify({ command: 'history', identifier: id, history: { since: 5 } })),
      { command: 'history', identifier: id, history: { since: 5 } },
    )
  })

  const bad: [string, string, RegExp][] = [
    ['not JSON', '{"command":', /not valid JSON/],
    ['a JSON array', '[1,2]', /JSON object/],
    ['a JSON string', '"subscribe"', /JSON object/],
    ['null', 'null', /JSON object/],
    ['unknown command', '{"command":"dance","identifier":"x"}', /unknown command "dance"/],
    ['missing command', '{"identifier":"x"}', /unknown command/],
    ['identifier not a string', '{"command":"subscribe","identifier":{"channel":"$pubsub"}}', /identifier must be a string/],
    ['missing identifier', '{"command":"unsubscribe"}', /identifier must be a string/],
    ['message data not a string', '{"command":"message","identifier":"x","data":{"a":1}}', /data must be a JSON-encoded string/],
    ['history without history', '{"command":"history","identifier":"x"}', /history must be an object/],
    ['history.since not a number', '{"command":"history","identifier":"x","history":{"since":"yesterday"}}', /history.since/],
    ['history.streams not an object', '{"command":"history","identifier":"x","history":{"streams":[]}}', /history.streams must be an object/],
    ['negative offset', '{"command":"history","identifier":"x","history":{"streams":{"s":{"epoch":"e","offset":-1}}}}', /history.streams.s.offset/],
    ['fractional offset', '{"command":"history","identifier":"x","history":{"streams":{"s":{"epoch":"e","offset":1.5}}}}', /offset/],
    ['epoch not a string', '{"command":"history","identifier":"x","history":{"streams":{"s":{"epoch":7,"offset":1}}}}', /history.streams.s.epoch/],
    ['position not an object', '{"command":"subscribe","identifier":"x","history":{"streams":{"s":3}}}', /history.streams.s must be an object/],
  ]
  for (const [what, text, message] of bad) {
    test(`rejects ${what}`, () => {
      assert.throws(() => decodeCommand(text), (err: unknown) => err instanceof ProtocolError && message.test(err.message))
    })
  }

  test('decodeHistory ignores null fields', () => {
    assert.deepEqual(decodeHistory({ since: null, streams: null }), {})
  })
})

describe('replies', () => {
  const m: StreamMessage = { stream: 'chat/1', data: '{"text":"hi"}', offset: 7, epoch: 'xY1z', at: 0 }

  test('shapes match AnyCable byte for byte', () => {
    assert.equal(replies.welcome('s1').json, '{"type":"welcome","sid":"s1"}')
    assert.equal(replies.welcome('s2', ['a', 'b']).json, '{"type":"welcome","sid":"s2","restored":true,"restored_ids":["a","b"]}')
    assert.equal(replies.ping(1700000000).json, '{"type":"ping","message":1700000000}')
    assert.equal(replies.pong().json, '{"type":"pong"}')
    assert.equal(replies.confirm('{"channel":"$pubsub"}').json, '{"type":"confirm_subscription","identifier":"{\\"channel\\":\\"$pubsub\\"}"}')
    assert.equal(replies.reject('i').json, '{"type":"reject_subscription","identifier":"i"}')
    assert.equal(replies.confirmHistory('i').json, '{"type":"confirm_history","identifier":"i"}')
    assert.equal(replies.rejectHistory('i').json, '{"type":"reject_history","identifier":"i"}')
    assert.equal(replies.transmit('i', '{"type":"snapshot"}'), '{"identifier":"i","message":{"type":"snapshot"}}')
  })

  test('data messages carry their position and parse as JSON', () => {
    const text = replies.dataAfter(replies.dataHead('i'), m)
    assert.equal(text, '{"identifier":"i","message":{"text":"hi"},"stream_id":"chat/1","epoch":"xY1z","offset":7}')
    assert.deepEqual(JSON.parse(text), { identifier: 'i', message: { text: 'hi' }, stream_id: 'chat/1', epoch: 'xY1z', offset: 7 })
  })

  test('identifiers are echoed exactly, including odd characters', () => {
    const odd = '{"channel":"$pubsub","stream_name":"a \\"quoted\\" \u2028 name"}'
    assert.equal(JSON.parse(replies.confirm(odd).json).identifier, odd)
  })
})

describe('canonicalData', () => {
  test('a JSON string on one line becomes that value, kept as the publisher wrote it', () => {
    assert.equal(canonicalData('{ "a" : 1, "b": [1, 2] }'), '{ "a" : 1, "b": [1, 2] }')
    // Digits a double cannot hold and number forms reach the client as sent.
    assert.equal(canonicalData('{"id":12345678901234567890,"p":1.50,"e":1e3}'), '{"id":12345678901234567890,"p":1.50,"e":1e3}')
    assert.equal(canonicalData('42'), '42')
    assert.equal(canonicalData('"quoted"'), '"quoted"')
    assert.equal(canonicalData('true'), 'true')
  })

  test('JSON written over several lines (LF, CR or both) is re-serialised onto one: SSE and NDJSON frame by lines', () => {
    assert.equal(canonicalData('{"a":\n1}'), '{"a":1}')
    assert.equal(canonicalData('{"a":\r1}'), '{"a":1}')
    assert.equal(canonicalData('[1,\r\n2]'), '[1,2]')
  })

  test('a string that is not JSON (or is JSON null) stays a string', () => {
    assert.equal(canonicalData('hello'), '"hello"')
    assert.equal(canonicalData('{broken'), '"{broken"')
    assert.equal(canonicalData('null'), '"null"')
    assert.equal(canonicalData(''), '""')
  })

  test('other values are serialised as JSON; undefined is null', () => {
    assert.equal(canonicalData({ a: 1 }), '{"a":1}')
    assert.equal(canonicalData([1, 'x']), '[1,"x"]')
    assert.equal(canonicalData(3.5), '3.5')
    assert.equal(canonicalData(null), 'null')
    assert.equal(canonicalData(undefined), 'null')
  })

  test('JSON text with line breaks is written again from its value, compactly, on one line', () => {
    assert.equal(canonicalData('{\n  "a": 1,\r\n  "b": [1, 2]\n}'), '{"a":1,"b":[1,2]}')
    assert.equal(canonicalData('"line\\nbreak"'), '"line\\nbreak"', 'an escaped line break inside a string is not one')
  })

  test('the result is always one line', () => {
    assert.doesNotMatch(canonicalData('{\n "a": "x"\n}'), /\n/)
  })
})

describe('identifiers', () => {
  test('the client shapes parse to stream requests', () => {
    assert.deepEqual(parseIdentifier(publicIdentifier('news')), { kind: 'public', stream: 'news' })
    assert.deepEqual(parseIdentifier(signedIdentifier('abc--def')), { kind: 'signed', signed: 'abc--def' })
    assert.deepEqual(parseIdentifier('{"channel":"ChatChannel","id":1}'), { kind: 'other', channel: 'ChatChannel' })
  })

  test('a signed name wins over a public one', () => {
    assert.deepEqual(parseIdentifier('{"channel":"$pubsub","signed_stream_name":"s--d","stream_name":"x"}'), { kind: 'signed', signed: 's--d' })
  })

  test('garbage is undefined', () => {
    for (const text of ['', 'nope', '[]', '"x"', '{}', '{"channel":1}', '{"channel":"$pubsub"}', '{"channel":"$pubsub","stream_name":""}']) {
      assert.equal(parseIdentifier(text), undefined, text)
    }
  })
})
