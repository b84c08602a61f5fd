import assert from 'node:assert/strict'
import { once } from 'node:events'
import net from 'node:net'
import { after, before, describe, test } from 'node:test'
import { observe } from '../../src/index.js'
import { startHerald, WireClient, type TestHerald } from '../support/herald.js'
import { metric, postJson, until } from '../support/util.js'
import { signedId } from '../support/wire.js'
import { rawHttp } from './raw-http.js'
import { errors, stillServes } from './serves.js'

// Hostile HTTP/1.1 requests and bodies against a real Herald: what Node's parser refuses (431,
// 400), JSON nested thousands of levels deep in every JSON Herald accepts (never stored, never a
// crash), a web page's requests to the publish and worker APIs, and a foreign Origin on the jobs
// API. Each checks the status, the error code in the body and its counter, then a normal client.

let h: TestHerald
before(async () => { h = await startHerald({ publicStreams: true, maxBodyBytes: 64 * 1024 }) })
after(() => h.close())

const deep = (levels: number) => '['.repeat(levels) + ']'.repeat(levels)
const HOST = 'Host: 127.0.0.1'

describe('requests Node\'s parser refuses', () => {
  test('request headers over 16 KiB: 431, counted, and the server goes on', async () => {
    const before = await errors(h, 'HERALD_ERR_BAD_REQUEST')
    const { status } = await rawHttp(h.url, ['GET /health HTTP/1.1', HOST, `X-Padding: ${'a'.repeat(20 * 1024)}`, 'Connection: close'])
    assert.equal(status, 431)
    // Many small headers add up the same way.
    const many = Array.from({ length: 400 }, (_, i) => `X-H${i}: ${'b'.repeat(60)}`)
    assert.equal((await rawHttp(h.url, ['GET /health HTTP/1.1', HOST, ...many, 'Connection: close'])).status, 431)
    assert.equal(await errors(h, 'HERALD_ERR_BAD_REQUEST'), before + 2)
    await stillServes(h)
  })

  const BAD: { name: string; head: string[]; body?: string }[] = [
    { name: 'a request line that is not HTTP', head: ['HELLO THERE'] },
    { name: 'a header line without a colon', head: ['GET /health HTTP/1.1', HOST, 'no colon here'] },
    { name: 'Content-Length and Transfer-Encoding together (request smuggling)', head: ['POST /_broadcast HTTP/1.1', HOST, 'Content-Type: application/json', 'Content-Length: 4', 'Transfer-Encoding: chunked'], body: '0\r\n\r\n' },
    { name: 'two different Content-Lengths', head: ['POST /_broadcast HTTP/1.1', HOST, 'Content-Length: 2', 'Content-Length: 3'], body: '{}' },
    { name: 'a NUL byte in a header value', head: ['GET /health HTTP/1.1', HOST, 'X-A: a\0b'] },
  ]
  for (const c of BAD) {
    test(`${c.name}: 400, counted, and the server goes on`, async () => {
      const before = await errors(h, 'HERALD_ERR_BAD_REQUEST')
      assert.equal((await rawHttp(h.url, c.head, c.body)).status, 400)
      assert.equal(await errors(h, 'HERALD_ERR_BAD_REQUEST'), before + 1)
      await stillServes(h)
    })
  }
})

describe('a body that never completes', () => {
  test('a chunk size that is not hex mid-body: 400 from the parser, the handler\'s read ends as HERALD_ERR_REQUEST_ABORTED (not a 500)', async () => {
    const [bad, aborted] = [await errors(h, 'HERALD_ERR_BAD_REQUEST'), await errors(h, 'HERALD_ERR_REQUEST_ABORTED')]
    const head = ['POST /_broadcast HTTP/1.1', HOST, 'Content-Type: application/json', 'Transfer-Encoding: chunked']
    assert.equal((await rawHttp(h.url, head, '2\r\n{}\r\nzz\r\n0\r\n\r\n')).status, 400)
    assert.equal(await errors(h, 'HERALD_ERR_BAD_REQUEST'), bad + 1)
    await until(async () => (await errors(h, 'HERALD_ERR_REQUEST_ABORTED')) === aborted + 1, 'the aborted read counted')
    await stillServes(h) // no HERALD_ERR_INTERNAL either
  })

  test('a client that resets mid-body: counted as HERALD_ERR_REQUEST_ABORTED, not as an internal error', async () => {
    const aborted = await errors(h, 'HERALD_ERR_REQUEST_ABORTED')
    const { hostname, port } = new URL(h.url)
    const s = net.connect(Number(port), hostname)
    s.on('error', () => {})
    await once(s, 'connect')
    let arrived = false
    const stop = observe(h.herald.diagnostics, { httpRequest: (e) => { if (e.path === '/jobs?aborted') arrived = true } })
    s.write(['POST /jobs?aborted HTTP/1.1', HOST, 'Content-Type: application/json', 'Content-Length: 1000', '', '{"type":"ext'].join('\r\n'))
    await until(() => arrived, 'the request to reach Herald')
    stop()
    s.resetAndDestroy()
    await until(async () => (await errors(h, 'HERALD_ERR_REQUEST_ABORTED')) === aborted + 1, 'the aborted read counted')
    await stillServes(h)
  })
})

describe('JSON nested 4,500 levels deep: 400 naming --max-json-depth, nothing stored, no crash', () => {
  const tooDeep = (res: { status: number; body: any }) => {
    assert.equal(res.status, 400, JSON.stringify(res.body).slice(0, 300))
    assert.equal(res.body.error.code, 'HERALD_ERR_JSON_TOO_DEEP')
    assert.match(res.body.error.message, /--max-json-depth/)
  }

  test('publish: a deep body and deep data (a JSON string) are refused and nothing is published', async () => {
    const before = await errors(h, 'HERALD_ERR_JSON_TOO_DEEP')
    tooDeep(await postJson(`${h.url}/_broadcast`, `{"stream":"hostile/deep","data":"1","x":${deep(4500)}}`))
    tooDeep(await postJson(`${h.url}/_broadcast`, { stream: 'hostile/deep', data: deep(4500) }))
    tooDeep(await postJson(`${h.url}/_broadcast`, [{ stream: 'hostile/deep', data: '1' }, { stream: 'hostile/deep', data: deep(65) }]))
    assert.equal(await errors(h, 'HERALD_ERR_JSON_TOO_DEEP'), before + 3)
    // Nothing from those requests was kept: the stream's first message is the next one.
    const ok = await postJson(`${h.url}/_broadcast`, { stream: 'hostile/deep', data: deep(64) })
    assert.equal(ok.status, 201)
    assert.equal(ok.body[0].offset, 1)
    await stillServes(h)
  })

  test('jobs: deep input, progress data and result are refused; the job stays readable and followable', async () => {
    tooDeep(await postJson(`${h.url}/jobs`, `{"type":"external","input":${deep(4500)}}`))
    const job = await postJson(`${h.url}/jobs`, { type: 'external' })
    assert.equal(job.status, 201)
    const id = job.body.id
    tooDeep(await postJson(`${h.url}/jobs/${id}/progress`, `{"progress":0.5,"data":${deep(4500)}}`))
    tooDeep(await postJson(`${h.url}/jobs/${id}/progress`, `{"state":"succeeded","result":{"a":${deep(4500)}}}`))
    assert.equal((await postJson(`${h.url}/jobs/${id}/progress`, { progress: 0.5, data: { step: 1 } })).status, 200)
    // What crashed the process before (#13): the snapshot, a WebSocket subscriber, an NDJSON resume.
    const snapshot = await fetch(`${h.url}/jobs/${id}`)
    assert.equal(snapshot.status, 200)
    assert.deepEqual((await snapshot.json()).data, { step: 1 })
    const c = await WireClient.connect(h.wsUrl)
    c.send({ command: 'subscribe', identifier: signedId(job.body.signedStream) })
    await c.waitForType('confirm_subscription')
    await c.waitFor((m) => m.message?.type === 'snapshot')
    c.close()
    const poll = await (await fetch(`${h.url}/jobs/${id}/poll?timeout=0`)).json()
    const resumed = await fetch(`${h.url}/jobs/${id}/stream?after=0&epoch=${encodeURIComponent(poll.epoch)}`)
    assert.equal(resumed.status, 200)
    await resumed.body?.cancel()
    assert.equal((await postJson(`${h.url}/jobs/${id}/progress`, { state: 'succeeded', result: { ok: true } })).status, 200)
    await stillServes(h)
  })
})

describe('a web page on the same machine may not publish or drive jobs (no --broadcast-key)', () => {
  const PAGE: { name: string; headers: Record<string, string> }[] = [
    { name: 'a cross-site text/plain POST (a form or fetch without preflight)', headers: { 'content-type': 'text/plain;charset=UTF-8' } },
    { name: 'a form POST', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
    { name: 'no content type', headers: {} },
    { name: 'JSON with an Origin header', headers: { 'content-type': 'application/json', origin: 'http://evil.example' } },
    { name: 'JSON with Sec-Fetch-Site', headers: { 'content-type': 'application/json', 'sec-fetch-site': 'cross-site' } },
  ]
  for (const p of PAGE) {
    test(`${p.name}: 401 saying why, nothing published or reported`, async () => {
      const before = await errors(h, 'HERALD_ERR_UNAUTHORIZED')
      const job = (await postJson(`${h.url}/jobs`, { type: 'external' })).body
      const send = (path: string, body: unknown) => fetch(`${h.url}${path}`, { method: 'POST', headers: p.headers, body: JSON.stringify(body) })
      for (const res of [await send('/_broadcast', { stream: 'hostile/page', data: '1' }), await send(`/jobs/${job.id}/progress`, { progress: 0.9 })]) {
        assert.equal(res.status, 401)
        const body = await res.json()
        assert.equal(body.error.code, 'HERALD_ERR_UNAUTHORIZED')
        assert.match(body.error.message, /may come from a web page/)
      }
      assert.equal(await errors(h, 'HERALD_ERR_UNAUTHORIZED'), before + 2)
      assert.equal((await (await fetch(`${h.url}/jobs/${job.id}`)).json()).progress, 0)
      const next = await postJson(`${h.url}/_broadcast`, { stream: `hostile/page/${job.id}`, data: '1' })
      assert.equal(next.body[0].offset, 1)
    })
  }
})

test('the jobs API with a foreign Origin is 403 under --allowed-origins; an allowed one gets CORS', async () => {
  const o = await startHerald({ publicStreams: true, allowedOrigins: 'https://app.example' })
  try {
    const evil = { origin: 'https://evil.example' }
    const before = await metric(o.url, 'herald_errors_total', { code: 'HERALD_ERR_FORBIDDEN_ORIGIN' })
    const refused = await postJson(`${o.url}/jobs`, { type: 'external' }, evil)
    assert.equal(refused.status, 403)
    assert.equal(refused.body.error.code, 'HERALD_ERR_FORBIDDEN_ORIGIN')
    const allowed = await postJson(`${o.url}/jobs`, { type: 'external' }, { origin: 'https://app.example' })
    assert.equal(allowed.status, 201)
    assert.equal(allowed.headers.get('access-control-allow-origin'), 'https://app.example')
    const id = allowed.body.id
    assert.equal((await postJson(`${o.url}/jobs/${id}/cancel`, '', evil)).status, 403)
    assert.equal((await fetch(`${o.url}/jobs/${id}`, { headers: evil })).status, 403)
    const preflight = await fetch(`${o.url}/jobs`, { method: 'OPTIONS', headers: { ...evil, 'access-control-request-method': 'POST' } })
    assert.equal(preflight.status, 403)
    assert.equal(await metric(o.url, 'herald_errors_total', { code: 'HERALD_ERR_FORBIDDEN_ORIGIN' }), before + 4)
    // The refused cancel changed nothing.
    assert.equal((await (await fetch(`${o.url}/jobs/${id}`)).json()).state, allowed.body.state)
    await stillServes(o)
  } finally {
    await o.close()
  }
})
