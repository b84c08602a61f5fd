import assert from 'node:assert/strict'
import http from 'node:http'
import { after, before, test } from 'node:test'
import { startHerald, type TestHerald } from '../support/herald.js'
import { metric, postJson } from '../support/util.js'

// README: "Without --broadcast-key only loopback clients may publish." Every client here is on
// loopback, so each is accepted; the refusal of other addresses is test/unit/broadcast-key.test.ts.

let h: TestHerald
before(async () => { h = await startHerald() })
after(() => h.close())

/** POST with a chosen source address (`localAddress`), as a client on that address would. */
function post(url: string, body: unknown, localAddress?: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const text = JSON.stringify(body)
    const req = http.request(url, { method: 'POST', localAddress, agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } }, (res) => {
      let data = ''
      res.setEncoding('utf8').on('data', (c) => (data += c)).on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(data) }))
    })
    req.on('error', reject)
    req.end(text)
  })
}

for (const source of ['127.0.0.1', '127.0.0.2', '127.200.1.9']) {
  test(`without --broadcast-key, a publisher at ${source} (loopback) is accepted: 201 with the position`, async () => {
    const stream = `loopback/${source}`
    const res = await post(`${h.url}/_broadcast`, { stream, data: '{"from":"loopback"}' }, source)
    assert.equal(res.status, 201, JSON.stringify(res.body))
    assert.deepEqual(res.body.map((p: any) => [p.stream, p.offset]), [[stream, 1]])
  })
}

test('without --broadcast-key, a publisher on IPv6 loopback (::1) is accepted', async () => {
  const v6 = await startHerald({ host: '::1' })
  try {
    assert.match(v6.url, /^http:\/\/\[::1\]:\d+$/)
    const res = await post(`${v6.url}/_broadcast`, { stream: 'loopback/v6', data: '1' })
    assert.equal(res.status, 201, JSON.stringify(res.body))
  } finally {
    await v6.close()
  }
})

test('without --broadcast-key, a worker on loopback reports an external job\'s progress and outcome', async () => {
  const unauthorized = await metric(h.url, 'herald_errors_total', { code: 'HERALD_ERR_UNAUTHORIZED' })
  const { body: job } = await postJson(`${h.url}/jobs`, { type: 'external' })
  const progress = await post(`${h.url}/jobs/${job.id}/progress`, { progress: 0.5 }, '127.0.0.3')
  assert.equal(progress.status, 200)
  assert.equal(progress.body.progress, 0.5)
  const done = await post(`${h.url}/jobs/${job.id}/progress`, { state: 'succeeded', result: 1 }, '127.0.0.3')
  assert.equal(done.body.state, 'succeeded')
  assert.equal(await metric(h.url, 'herald_errors_total', { code: 'HERALD_ERR_UNAUTHORIZED' }), unauthorized, 'nothing refused')
})
