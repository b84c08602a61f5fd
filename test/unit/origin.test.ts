import assert from 'node:assert/strict'
import { test } from 'node:test'
import { OriginPolicy } from '../../src/http/origin.js'

test('* (the default) allows every origin', () => {
  const p = new OriginPolicy('*')
  assert.equal(p.any, true)
  assert.equal(p.allows('https://anything.example'), true)
  assert.equal(p.corsValue('https://anything.example'), 'https://anything.example')
  assert.equal(p.corsValue(undefined), '*')
})

test('hosts, host:port, full origins and wildcard hosts', () => {
  const p = new OriginPolicy(' app.example , admin.example:8443, https://secure.example, *.tenant.example ')
  const allowed = ['http://app.example', 'https://app.example:9000', 'https://admin.example:8443', 'https://secure.example',
    'https://a.tenant.example', 'http://b.c.tenant.example:81', 'HTTPS://APP.EXAMPLE']
  const refused = ['https://evil.example', 'https://admin.example', 'http://secure.example', 'https://secure.example:444',
    'https://tenant.example', 'https://eviltenant.example', 'https://app.example.evil', 'null', 'not a url', '']
  for (const o of allowed) assert.equal(p.allows(o), true, o)
  for (const o of refused) assert.equal(p.allows(o), false, o)
  assert.equal(p.allows(undefined), true, 'no Origin header: not a browser, always allowed')
  assert.equal(p.corsValue('https://secure.example'), 'https://secure.example')
  assert.equal(p.corsValue('https://evil.example'), undefined)
  assert.equal(p.corsValue(undefined), undefined)
})
