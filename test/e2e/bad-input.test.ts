import assert from 'node:assert/strict'
import http from 'node:http'
import { after, before, describe, test } from 'node:test'
import { publicIdentifier } from '../../src/protocol/identifier.js'
import { startHerald, WireClient, type TestHerald } from '../support/herald.js'
import { metric, postJson } from '../support/util.js'

let h: TestHerald
before(async () => { h = await startHerald({ maxBodyBytes: 1024, publicStreams: true }) })
after(() => h.close())

const errors = (code: string, s = h) => metric(s.url, 'herald_errors_total', { code })

/** A raw HTTP/1.1 request; `chunked` sends the body without Content-Length. */
function request(url: string, method: string, body: string | Buffer | undefined, options: { chunked?: boolean; headers?: Record<string, string> } = {}) {
  return new Promise<{ status: number; body: any }>((resolve, reject) => {
    const headers: Record<string, string> = { ...options.headers }
    if (body !== undefined && !options.chunked) headers['content-length'] = String(Buffer.byteLength(body))
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d) => (text += d))
      res.on('end', () => {
        let parsed: unknown = text
        try { parsed = JSON.parse(text) } catch { /* not JSON */ }
        resolve({ status: res.statusCode!, body: parsed })
      })
    })
    req.on('error', reject)
    if (body !== undefined && options.chunked) {
      // Several chunks, so the limit is met while the body is still arriving.
      const buf = Buffer.from(body)
      for (let i = 0; i < buf.length; i += 256) req.write(buf.subarray(i, i + 256))
    } else if (body !== undefined) req.write(body)
    req.end()
  })
}

/** Every error answer has the same shape. */
function assertError(res: { status: number; body: any }, status: number, code: string, message?: RegExp) {
  assert.equal(res.status, status, JSON.stringify(res.body))
  assert.equal(res.body.error.code, code)
  if (message) assert.match(res.body.error.message, message)
}

describe('jobs API bad input', () => {
  test('an unknown job is 404 (snapshot, cancel)', async () => {
    const before = await errors('HERALD_ERR_NOT_FOUND')
    assertError(await request(`${h.url}/jobs/no-such-job`, 'GET', undefined), 404, 'HERALD_ERR_NOT_FOUND', /no-such-job/)
    assertError(await request(`${h.url}/jobs/no-such-job/cancel`, 'POST', ''), 404, 'HERALD_ERR_NOT_FOUND')
    assert.equal(await errors('HERALD_ERR_NOT_FOUND'), before + 2)
  })

  test('an unknown path is 404, a known path with the wrong method 405 with Allow', async () => {
    assertError(await request(`${h.url}/nowhere`, 'GET', undefined), 404, 'HERALD_ERR_NOT_FOUND')
    const res = await fetch(`${h.url}/jobs`, { method: 'DELETE' })
    assert.equal(res.status, 405)
    assert.match(res.headers.get('allow') ?? '', /POST/)
  })

  test('a malformed percent-encoding in a path parameter is 400, not a crash or a 500', async () => {
    const internal = await errors('HERALD_ERR_INTERNAL')
    assertError(await request(`${h.url}/jobs/%E0%A4%A`, 'GET', undefined), 400, 'HERALD_ERR_BAD_REQUEST', /percent-encoding/)
    assert.equal(await errors('HERALD_ERR_INTERNAL'), internal)
  })

  test('an unknown job type is 400 naming the known types', async () => {
    const before = await errors('HERALD_ERR_UNKNOWN_JOB_TYPE')
    const res = await postJson(`${h.url}/jobs`, { type: 'teleport' })
    assertError(res, 400, 'HERALD_ERR_UNKNOWN_JOB_TYPE', /"teleport"/)
    assert.match(res.body.error.message, /demo/)
    assert.match(res.body.error.message, /external/)
    assert.equal(await errors('HERALD_ERR_UNKNOWN_JOB_TYPE'), before + 1)
  })

  test('malformed JSON is 400', async () => {
    const before = await errors('HERALD_ERR_BAD_JSON')
    assertError(await postJson(`${h.url}/jobs`, '{"type": "demo",'), 400, 'HERALD_ERR_BAD_JSON')
    assertError(await postJson(`${h.url}/_broadcast`, 'nope'), 400, 'HERALD_ERR_BAD_JSON')
    assert.equal(await errors('HERALD_ERR_BAD_JSON'), before + 2)
  })

  test('the wrong shape is 400 naming the field', async () => {
    const before = await errors('HERALD_ERR_BAD_REQUEST')
    assertError(await postJson(`${h.url}/jobs`, { type: 7 }), 400, 'HERALD_ERR_BAD_REQUEST', /body\.type/)
    assertError(await postJson(`${h.url}/jobs`, { type: 'demo', extra: 1 }), 400, 'HERALD_ERR_BAD_REQUEST', /extra/)
    assertError(await postJson(`${h.url}/jobs`, [1]), 400, 'HERALD_ERR_BAD_REQUEST', /body/)
    assertError(await postJson(`${h.url}/jobs`, ''), 400, 'HERALD_ERR_BAD_REQUEST', /JSON body is required/)
    assertError(await postJson(`${h.url}/jobs`, { type: 'demo', input: { steps: 'many' } }), 400, 'HERALD_ERR_BAD_REQUEST', /input\.steps/)
    assertError(await postJson(`${h.url}/_broadcast`, { stream: 'x' }), 400, 'HERALD_ERR_BAD_REQUEST', /data/)
    assertError(await postJson(`${h.url}/_broadcast`, { stream: '', data: '1' }), 400, 'HERALD_ERR_BAD_REQUEST', /stream/)
    assertError(await postJson(`${h.url}/_broadcast`, []), 400, 'HERALD_ERR_BAD_REQUEST')
    assert.equal(await errors('HERALD_ERR_BAD_REQUEST'), before + 8)
  })

  test('a body that is not UTF-8 is 400', async () => {
    assertError(await request(`${h.url}/jobs`, 'POST', Buffer.from([0x7b, 0xff, 0x7d])), 400, 'HERALD_ERR_INVALID_UTF8')
  })

  test('a body over maxBodyBytes is 413, with Content-Length and chunked', async () => {
    const before = await errors('HERALD_ERR_BODY_TOO_LARGE')
    const big = JSON.stringify({ type: 'demo', input: { pad: 'x'.repeat(4000) } })
    assertError(await request(`${h.url}/jobs`, 'POST', big), 413, 'HERALD_ERR_BODY_TOO_LARGE')
    assertError(await request(`${h.url}/jobs`, 'POST', big, { chunked: true }), 413, 'HERALD_ERR_BODY_TOO_LARGE')
    assertError(await request(`${h.url}/_broadcast`, 'POST', big, { chunked: true, headers: { 'content-type': 'application/json' } }), 413, 'HERALD_ERR_BODY_TOO_LARGE')
    assert.equal(await errors('HERALD_ERR_BODY_TOO_LARGE'), before + 3)
    // Exactly at the limit is read (and then judged on its shape).
    const exact = JSON.stringify({ type: 'demo', input: { pad: '' } })
    const padded = exact.replace('"pad":""', `"pad":"${'x'.repeat(1024 - exact.length)}"`)
    assert.equal(Buffer.byteLength(padded), 1024)
    assertError(await request(`${h.url}/jobs`, 'POST', padded, { chunked: true }), 400, 'HERALD_ERR_BAD_REQUEST', /pad/)
  })
})

describe('broadcast API', () => {
  test('an array is published in order, 201 with each position', async () => {
    const c = await WireClient.connect(h.wsUrl)
    await c.waitForType('welcome')
    const identifier = publicIdentifier('ordered')
    c.send({ command: 'subscribe', identifier })
    await c.waitForType('confirm_subscription')
    const body = Array.from({ length: 20 }, (_, i) => ({ stream: i % 2 ? 'ordered' : 'other', data: JSON.stringify({ i }) }))
    const res = await postJson(`${h.url}/_broadcast`, body)
    assert.equal(res.status, 201)
    assert.equal(res.body.length, 20)
    assert.deepEqual(res.body.filter((p: any) => p.stream === 'ordered').map((p: any) => p.offset), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    assert.deepEqual(res.body.filter((p: any) => p.stream === 'other').map((p: any) => p.offset), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    await c.waitFor((m) => m.offset === 10)
    assert.deepEqual(c.data(identifier).map((m) => m.message.i), [1, 3, 5, 7, 9, 11, 13, 15, 17, 19])
    c.close()
  })

  test('with a broadcast key, a wrong or missing key is 401 and nothing is published', async () => {
    const k = await startHerald({ broadcastKey: 'sekret' })
    try {
      const one = { stream: 'guarded', data: '1' }
      assertError(await postJson(`${k.url}/_broadcast`, one), 401, 'HERALD_ERR_UNAUTHORIZED')
      assertError(await postJson(`${k.url}/_broadcast`, one, { authorization: 'Bearer wrong' }), 401, 'HERALD_ERR_UNAUTHORIZED')
      assertError(await postJson(`${k.url}/_broadcast`, one, { authorization: 'Basic sekret' }), 401, 'HERALD_ERR_UNAUTHORIZED')
      assert.equal(await errors('HERALD_ERR_UNAUTHORIZED', k), 3)
      const ok = await postJson(`${k.url}/_broadcast`, one, { authorization: 'Bearer sekret' })
      assert.equal(ok.status, 201)
      assert.deepEqual(ok.body.map((p: any) => p.offset), [1])
    } finally {
      await k.close()
    }
  })
})
