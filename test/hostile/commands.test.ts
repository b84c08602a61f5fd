import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { observe } from '../../src/index.js'
import { signStream } from '../../src/auth/signed-stream.js'
import { startHerald, WireClient, type TestHerald } from '../support/herald.js'
import { broadcast, until } from '../support/util.js'
import { publicId, signedId } from '../support/wire.js'
import { disconnects, errors, stillServes } from './serves.js'

// Hostile Action Cable commands over a real WebSocket: each malformed command ends the connection
// with `disconnect` invalid_command (no reconnect) and close 1008, is counted and logged with what
// was wrong; a subscription Herald will not serve is a reject_subscription saying why, and the
// connection goes on. After each, a well-behaved client is served.

const SECRET = 'hostile-commands'
const MAX_SUBSCRIPTIONS = 5
const MAX_IDENTIFIER = 256
const MAX_DEPTH = 64
let h: TestHerald
/** What each rejected input was logged with (herald:input:reject). */
const rejects: { code: string; detail: string }[] = []
let stop: () => void
before(async () => {
  h = await startHerald({ publicStreams: true, streamsSecret: SECRET, maxSubscriptions: MAX_SUBSCRIPTIONS, maxIdentifierLength: MAX_IDENTIFIER, maxJsonDepth: MAX_DEPTH })
  stop = observe(h.herald.diagnostics, { inputReject: (e) => rejects.push({ code: e.code, detail: e.detail }) })
})
after(async () => { stop(); await h.close() })

async function welcomed(): Promise<WireClient> {
  const c = await WireClient.connect(h.wsUrl)
  await c.waitForType('welcome')
  return c
}

const deep = (levels: number) => '['.repeat(levels) + ']'.repeat(levels)

/** Each is sent as one text message; `detail` is what the log line must say. */
const INVALID: { name: string; text: string; detail: RegExp }[] = [
  { name: 'not JSON', text: '{"command":"subscribe",', detail: /not valid JSON/ },
  { name: 'an empty message', text: '', detail: /not valid JSON/ },
  { name: 'a JSON array', text: '["subscribe"]', detail: /must be a JSON object/ },
  { name: 'JSON null', text: 'null', detail: /must be a JSON object/ },
  { name: 'no command', text: '{"identifier":"{}"}', detail: /unknown command undefined/ },
  { name: 'an unknown command', text: '{"command":"launch","identifier":"{}"}', detail: /unknown command "launch"/ },
  { name: 'a command that is not a string', text: '{"command":["subscribe"]}', detail: /unknown command/ },
  { name: 'an identifier that is a number', text: '{"command":"subscribe","identifier":42}', detail: /identifier must be a string/ },
  { name: 'an identifier that is an object (not its JSON text)', text: '{"command":"subscribe","identifier":{"channel":"$pubsub"}}', detail: /identifier must be a string/ },
  { name: 'message data that is not a string', text: JSON.stringify({ command: 'message', identifier: publicId('x'), data: { a: 1 } }), detail: /data must be a JSON-encoded string/ },
  { name: 'a history offset below zero', text: JSON.stringify({ command: 'subscribe', identifier: publicId('x'), history: { streams: { x: { offset: -1, epoch: 'e' } } } }), detail: /offset must be a non-negative integer/ },
  { name: 'a history offset that is a string', text: JSON.stringify({ command: 'history', identifier: publicId('x'), history: { streams: { x: { offset: '3', epoch: 'e' } } } }), detail: /offset must be a non-negative integer/ },
  { name: 'history since that is not a number', text: JSON.stringify({ command: 'history', identifier: publicId('x'), history: { since: 'yesterday' } }), detail: /since must be a number/ },
  { name: 'a history command without history', text: JSON.stringify({ command: 'history', identifier: publicId('x') }), detail: /history must be an object/ },
  { name: `JSON nested 4,500 levels (over --max-json-depth ${MAX_DEPTH})`, text: `{"command":"message","identifier":"{}","data":"1","x":${deep(4500)}}`, detail: /deeper than 64 levels \(--max-json-depth\)/ },
  { name: 'JSON nested 65 levels inside history', text: `{"command":"history","identifier":"{}","history":{"streams":{"s":${'{"a":'.repeat(64)}1${'}'.repeat(64)}}}}`, detail: /--max-json-depth/ },
  { name: `an identifier over --max-identifier-length (${MAX_IDENTIFIER})`, text: JSON.stringify({ command: 'subscribe', identifier: publicId('s'.repeat(MAX_IDENTIFIER)) }), detail: /identifier longer than 256 characters \(--max-identifier-length\)/ },
]

describe('malformed commands: disconnect invalid_command, close 1008', () => {
  for (const c of INVALID) {
    test(c.name, async () => {
      const [errs, ends] = [await errors(h, 'HERALD_ERR_BAD_COMMAND'), await disconnects(h, 'invalid_command')]
      const client = await welcomed()
      const logged = rejects.length
      client.send(c.text)
      const { code, reason } = await client.closed()
      assert.equal(code, 1008)
      assert.equal(reason, 'invalid_command')
      assert.deepEqual(client.messages.at(-1), { type: 'disconnect', reason: 'invalid_command', reconnect: false })
      const line = rejects.slice(logged).find((r) => r.code === 'HERALD_ERR_BAD_COMMAND')
      assert.ok(line, 'logged as HERALD_ERR_BAD_COMMAND')
      assert.match(line.detail, c.detail)
      await until(async () => (await disconnects(h, 'invalid_command')) > ends, 'invalid_command counted')
      assert.equal(await errors(h, 'HERALD_ERR_BAD_COMMAND'), errs + 1)
      await stillServes(h)
    })
  }
})

describe('subscriptions Herald will not serve: reject_subscription with a reason, the connection goes on', () => {
  const REFUSED: { name: string; identifier: string; why: RegExp }[] = [
    { name: 'an identifier that is not JSON', identifier: 'not json', why: /not a channel object/ },
    { name: 'an identifier that is a JSON string', identifier: '"$pubsub"', why: /not a channel object/ },
    { name: 'no channel', identifier: '{"stream_name":"x"}', why: /not a channel object/ },
    { name: 'a channel Herald does not serve', identifier: '{"channel":"ChatChannel","room":1}', why: /unknown channel "ChatChannel"/ },
    { name: '$pubsub with an empty stream name', identifier: '{"channel":"$pubsub","stream_name":""}', why: /not a channel object/ },
    { name: 'a signed stream with a wrong signature', identifier: signedId(signStream('x', 'other-secret')), why: /bad stream signature/ },
    { name: 'a signed stream that is not base64 JSON', identifier: signedId('%%%--00'), why: /bad stream signature/ },
  ]
  for (const r of REFUSED) {
    test(r.name, async () => {
      const before = await errors(h, 'HERALD_ERR_SUBSCRIPTION_REJECTED')
      const c = await welcomed()
      c.send({ command: 'subscribe', identifier: r.identifier })
      const reject = await c.waitForType('reject_subscription')
      assert.equal(reject.identifier, r.identifier)
      assert.match(reject.reason, r.why)
      assert.equal(await errors(h, 'HERALD_ERR_SUBSCRIPTION_REJECTED'), before + 1)
      c.send({ command: 'ping' })
      await c.waitForType('pong')
      assert.equal(c.closeCode, undefined, 'still open')
      c.close()
      await stillServes(h)
    })
  }

  test('public streams off: the reason names --public-streams and signed streams', async () => {
    const off = await startHerald({ streamsSecret: SECRET })
    try {
      const c = await WireClient.connect(off.wsUrl)
      c.send({ command: 'subscribe', identifier: publicId('news') })
      const reject = await c.waitForType('reject_subscription')
      assert.match(reject.reason, /public streams are disabled \(--public-streams\)/)
      c.send({ command: 'subscribe', identifier: signedId(signStream('news', SECRET)) })
      await c.waitForType('confirm_subscription')
      c.close()
    } finally {
      await off.close()
    }
  })

  test(`subscriptions over --max-subscriptions (${MAX_SUBSCRIPTIONS}), each made distinct by an extra key: the extra ones are rejected saying why`, async () => {
    const before = await errors(h, 'HERALD_ERR_SUBSCRIPTION_REJECTED')
    const c = await welcomed()
    const ids = Array.from({ length: MAX_SUBSCRIPTIONS + 3 }, (_, i) => JSON.stringify({ channel: '$pubsub', stream_name: 'hostile/many', n: i }))
    for (const identifier of ids) c.send({ command: 'subscribe', identifier })
    for (const identifier of ids.slice(MAX_SUBSCRIPTIONS)) {
      const reject = await c.waitFor((m) => m.type === 'reject_subscription' && m.identifier === identifier)
      assert.match(reject.reason, /holds 5 subscriptions already \(--max-subscriptions\)/)
    }
    await until(() => c.messages.filter((m) => m.type === 'confirm_subscription').length === MAX_SUBSCRIPTIONS, 'five confirmed')
    assert.equal(await errors(h, 'HERALD_ERR_SUBSCRIPTION_REJECTED'), before + 3)
    // An unsubscribe frees a place.
    c.send({ command: 'unsubscribe', identifier: ids[0] })
    c.send({ command: 'subscribe', identifier: ids[MAX_SUBSCRIPTIONS] })
    await c.waitFor((m) => m.type === 'confirm_subscription' && m.identifier === ids[MAX_SUBSCRIPTIONS])
    c.close()
    await stillServes(h)
  })
})

describe('commands that are ignored without harm', () => {
  test('subscribing twice is ignored (one confirmation, each message once), as in AnyCable', async () => {
    const c = await welcomed()
    const identifier = publicId('hostile/twice')
    c.send({ command: 'subscribe', identifier })
    c.send({ command: 'subscribe', identifier })
    await c.waitForType('confirm_subscription')
    await broadcast(h.url, [{ stream: 'hostile/twice', data: '{"n":1}' }, { stream: 'hostile/twice', data: '{"n":2}' }])
    await c.waitFor((m) => m.message?.n === 2)
    c.send({ command: 'ping' })
    await c.waitForType('pong')
    assert.equal(c.messages.filter((m) => m.type === 'confirm_subscription').length, 1)
    assert.deepEqual(c.data(identifier).map((m) => m.message.n), [1, 2])
    c.close()
  })

  test('unsubscribe from a stream never subscribed, message and whisper on $pubsub: the connection goes on', async () => {
    const c = await welcomed()
    c.send({ command: 'unsubscribe', identifier: publicId('never') })
    c.send({ command: 'message', identifier: publicId('never'), data: '{"action":"speak"}' })
    c.send({ command: 'whisper', identifier: publicId('never'), data: { typing: true } })
    c.send({ command: 'pong' })
    c.send({ command: 'ping' })
    await c.waitForType('pong')
    assert.equal(c.closeCode, undefined)
    c.close()
    await stillServes(h)
  })
})
