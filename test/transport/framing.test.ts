import assert from 'node:assert/strict'
import { test } from 'node:test'
import { jsonlFraming, ndjsonFraming, splitLines } from '../../src/framing/ndjson.js'
import { parseSseId, sseEvent, sseFramingFull, sseFramingGet, sseFramingJob, sseId } from '../../src/framing/sse-frame.js'
import { Disconnects } from '../../src/disconnect.js'
import { PreparedBroadcast } from '../../src/framing/prepared-broadcast.js'
import { chunkedFraming, unchunk } from '../../src/framing/chunked.js'
import { framingCount } from '../../src/framing/framing.js'
import { wsFraming } from '../../src/framing/ws-frame.js'
import { replies, type StreamMessage } from '../../src/protocol/messages.js'

const m: StreamMessage = { stream: 'a/b/c', data: '{"x":1}', offset: 7, epoch: 'E1', at: 0 }
const id = '{"channel":"$pubsub","stream_name":"a/b/c"}'
const prepared = (message: StreamMessage = m) => new PreparedBroadcast(id, message)

test('SSE events: multi-line data, CR/LF kept out of id and event, ids parse back with / in the stream', () => {
  assert.equal(sseEvent({ event: 'x', data: 'a\r\nb\nc', id: '1/e/s' }), 'event: x\ndata: a\ndata: b\ndata: c\nid: 1/e/s\n\n')
  assert.equal(sseEvent({ event: 'bad\nevent', data: '1', id: 'bad\rid' }), 'data: 1\n\n')
  assert.equal(sseId(m), '7/E1/a/b/c')
  assert.deepEqual(parseSseId('7/E1/a/b/c'), { offset: 7, epoch: 'E1', stream: 'a/b/c' })
  assert.equal(parseSseId('x/E1/s'), undefined)
  assert.equal(parseSseId('7/E1'), undefined)
})

test('SSE framings: GET writes bare messages, POST whole replies, the job framing drops bookkeeping; reconnect:false sets retry', () => {
  const full = prepared().json()
  assert.equal(sseFramingGet.data(prepared()).toString(), 'data: {"x":1}\nid: 7/E1/a/b/c\n\n')
  assert.equal(sseFramingFull.data(prepared()).toString(), `data: ${full}\nid: 7/E1/a/b/c\n\n`)
  assert.equal(sseFramingGet.data(prepared({ ...m, data: '"two\\nlines"' })).toString(), 'data: two\ndata: lines\nid: 7/E1/a/b/c\n\n')
  assert.equal(sseFramingGet.reply(replies.welcome('S')).toString(), 'event: welcome\ndata: {"type":"welcome","sid":"S"}\n\n')
  assert.equal(sseFramingJob.reply(replies.welcome('S')).length, 0)
  assert.equal(sseFramingJob.transmit(id, '{"type":"snapshot"}').toString(), 'data: {"type":"snapshot"}\n\n')
  assert.match(sseFramingGet.reply(Disconnects.complete.reply).toString(), /retry: 31536000000\n\n$/)
  assert.doesNotMatch(sseFramingGet.reply(Disconnects.shutdown.reply).toString(), /retry/)
  const ids = [sseFramingGet.id, sseFramingFull.id, sseFramingJob.id, ndjsonFraming.id, jsonlFraming.id, wsFraming.id]
  assert.equal(new Set(ids).size, 6, 'distinct ids')
  assert.ok(ids.every((i) => i < framingCount()), 'dense: every id is a slot below the count')
})

test('NDJSON and JSON Lines framings', () => {
  assert.equal(ndjsonFraming.data(prepared()).toString(), '{"message":{"x":1},"stream_id":"a/b/c","epoch":"E1","offset":7}\n')
  assert.equal(ndjsonFraming.reply(replies.confirm(id)).length, 0)
  assert.equal(ndjsonFraming.transmit(id, '"hi"').toString(), '{"message":"hi"}\n')
  assert.equal(jsonlFraming.reply(replies.ping(1)).length, 0, 'no pings over long polling')
  assert.equal(jsonlFraming.reply(replies.welcome('S')).toString(), '{"type":"welcome","sid":"S"}\n')
  assert.deepEqual(splitLines('a\n\nb\r\nc'), ['a', 'b', 'c'])
})

test('chunked framings: each frame is one HTTP/1.1 chunk, encoded once per framing, empty frames stay empty, and unchunk gives the payload back', () => {
  const c = chunkedFraming(sseFramingGet)
  assert.equal(chunkedFraming(sseFramingGet), c)
  assert.notEqual(c.id, sseFramingGet.id)
  assert.notEqual(chunkedFraming(ndjsonFraming).id, c.id)
  const plain = sseFramingGet.data(prepared())
  const framed = c.data(prepared())
  assert.equal(framed.toString(), `${plain.length.toString(16)}\r\n${plain}\r\n`)
  assert.equal(chunkedFraming(sseFramingJob).reply(replies.welcome('s1')).length, 0)
  const two = Buffer.concat([framed, chunkedFraming(ndjsonFraming).reply(replies.ping(5))])
  assert.equal(unchunk(two).toString(), plain.toString() + ndjsonFraming.reply(replies.ping(5)).toString())
})
