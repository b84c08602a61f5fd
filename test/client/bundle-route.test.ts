import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, before, test } from 'node:test'
import { CLIENT_BUNDLE } from '../../scripts/build-client.js'
import { startHerald, type TestHerald } from '../support/herald.js'

let h: TestHerald
before(async () => { h = await startHerald({ demo: false }) })
after(() => h.close())

test('GET /herald-client.js serves the built client bundle as JavaScript any origin may import, with or without the demo page', async () => {
  const res = await fetch(`${h.url}/herald-client.js`, { headers: { origin: 'http://elsewhere.example' } })
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /^text\/javascript/)
  assert.equal(res.headers.get('access-control-allow-origin'), '*')
  assert.equal(await res.text(), readFileSync(CLIENT_BUNDLE, 'utf8'))
  const head = await fetch(`${h.url}/herald-client.js`, { method: 'HEAD' })
  assert.equal(head.status, 200)
  assert.equal((await fetch(`${h.url}/`)).status, 404, 'the demo page is off')
})
