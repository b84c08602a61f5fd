import assert from 'node:assert/strict'
import { test } from 'node:test'
import { signStream } from '../../src/auth/signed-stream.js'
import { StreamAuthorizer } from '../../src/auth/stream-authorizer.js'

// Which stream a `$pubsub` identifier may read, and the reason a refused client is given (it is
// sent as `reason` in reject_subscription).

const secret = 's3cret'
const signed = (stream: string, key = secret) => JSON.stringify({ channel: '$pubsub', signed_stream_name: signStream(stream, key) })
const unsigned = (stream: string) => JSON.stringify({ channel: '$pubsub', stream_name: stream })

test('a signed stream name is read when its signature holds, whatever --public-streams says', () => {
  for (const publicStreams of [false, true]) {
    const auth = new StreamAuthorizer({ publicStreams, streamsSecret: secret })
    assert.deepEqual(auth.authorize(signed('chat/1')), { ok: true, stream: 'chat/1' })
    assert.deepEqual(auth.authorize(signed('chat/1', 'other')), { ok: false, why: 'bad stream signature' })
  }
})

test('an unsigned stream name is read only with --public-streams, and the refusal names the option', () => {
  assert.deepEqual(new StreamAuthorizer({ publicStreams: true, streamsSecret: secret }).authorize(unsigned('news')), { ok: true, stream: 'news' })
  assert.deepEqual(new StreamAuthorizer({ publicStreams: false, streamsSecret: secret }).authorize(unsigned('news')),
    { ok: false, why: 'public streams are disabled (--public-streams)' })
})

test('another channel, or an identifier that is not a channel object, is refused with why', () => {
  const auth = new StreamAuthorizer({ publicStreams: true, streamsSecret: secret })
  assert.deepEqual(auth.authorize('{"channel":"ChatChannel","room":1}'), { ok: false, why: 'unknown channel "ChatChannel" (only $pubsub is served)' })
  for (const identifier of ['nope', '[]', '{"channel":"$pubsub"}']) {
    assert.deepEqual(auth.authorize(identifier), { ok: false, why: 'identifier is not a channel object' }, identifier)
  }
})
