import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { startHerald, type TestHerald } from '../support/herald.js'
import { broadcast, until } from '../support/util.js'
import { holdings, NO_HOLDINGS, StreamReader } from './http-clients.js'

let h: TestHerald
before(async () => { h = await startHerald({ publicStreams: true, pingInterval: 0.2 }) })
after(() => h.close())

const id = (stream: string) => JSON.stringify({ channel: '$pubsub', stream_name: stream })
const subscribe = (stream: string, history?: object) => JSON.stringify({ command: 'subscribe', identifier: id(stream), history })

/** POST /stream with JSON Lines, read as NDJSON. */
async function open(body: string): Promise<StreamReader> {
  const r = new StreamReader(`${h.url}/stream`, { mode: 'ndjson', method: 'POST', body })
  await until(() => r.status || r.ended, 'an answer')
  return r
}

test('POST /stream: several streams over one NDJSON response, whole replies with identifiers and positions, pings as keepalive', async () => {
  const r = await open([subscribe('multi/a'), subscribe('multi/b')].join('\n'))
  try {
    assert.equal(r.status, 200)
    assert.match(String(r.headers['content-type']), /^application\/x-ndjson/)
    await r.waitFor(() => r.lines.filter((l) => l.type === 'confirm_subscription').length === 2, 'both confirmed')
    assert.equal(r.lines[0].type, 'welcome')
    await broadcast(h.url, [{ stream: 'multi/a', data: '{"n":1}' }, { stream: 'multi/b', data: '{"n":2}' }, { stream: 'multi/a', data: '{"n":3}' }])
    // Data lines are the ones with a position (a ping's `message` is a timestamp).
    const data = await r.waitFor(() => { const d = r.lines.filter((l) => l.stream_id); return d.length >= 3 ? d : undefined }, 'three data lines')
    assert.deepEqual(data.map((l) => [l.identifier, l.stream_id, l.offset, l.message.n]), [
      [id('multi/a'), 'multi/a', 1, 1], [id('multi/b'), 'multi/b', 1, 2], [id('multi/a'), 'multi/a', 2, 3],
    ])
    await r.waitFor(() => r.lines.some((l) => l.type === 'ping'), 'a ping line')
  } finally {
    r.destroy()
  }
  await until(() => holdings(h).connections === 0, 'freed')
})

test('POST /stream: each subscription resumes from its own position, nothing missed and nothing twice', async () => {
  const sent = await broadcast(h.url, [1, 2, 3].map((n) => ({ stream: 'resume/a', data: JSON.stringify({ n }) })))
  await broadcast(h.url, [{ stream: 'resume/b', data: '{"n":10}' }])
  const { epoch } = sent[0]
  const r = await open([
    subscribe('resume/a', { streams: { 'resume/a': { epoch, offset: 1 } } }),
    subscribe('resume/b', { since: Math.floor(Date.now() / 1000) - 60, streams: {} }),
  ].join('\n'))
  try {
    await r.waitFor(() => r.lines.filter((l) => l.type === 'confirm_history').length === 2, 'both histories')
    await broadcast(h.url, { stream: 'resume/a', data: '{"n":4}' })
    const data = await r.waitFor(() => { const d = r.lines.filter((l) => l.stream_id); return d.length >= 4 ? d : undefined }, 'backlogs and the live line')
    assert.deepEqual(data.map((l) => [l.stream_id, l.message.n]).sort(), [
      ['resume/a', 2], ['resume/a', 3], ['resume/a', 4], ['resume/b', 10],
    ].sort())
    assert.deepEqual(r.lines.filter((l) => l.stream_id === 'resume/a').map((l) => l.offset), [2, 3, 4])
  } finally {
    r.destroy()
  }
})

test('POST /stream: a rejected subscription is a 400 naming it; other commands and an empty body are 400s', async () => {
  const closed = await startHerald()
  try {
    const rejected = new StreamReader(`${closed.url}/stream`, { mode: 'ndjson', method: 'POST', body: subscribe('not/public') })
    await until(() => rejected.ended, 'the 400')
    assert.equal(rejected.status, 400)
    const err = JSON.parse(rejected.body).error
    assert.equal(err.code, 'HERALD_ERR_SUBSCRIPTION_REJECTED')
    assert.ok(err.message.includes(id('not/public')), err.message)
  } finally {
    await closed.close()
  }
  for (const body of ['', JSON.stringify({ command: 'unsubscribe', identifier: id('x') }), 'not json']) {
    const res = await fetch(`${h.url}/stream`, { method: 'POST', body })
    assert.equal(res.status, 400, body)
    await res.text()
  }
  await until(() => JSON.stringify(holdings(h)) === JSON.stringify(NO_HOLDINGS), 'nothing held')
})
