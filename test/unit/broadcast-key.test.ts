import assert from 'node:assert/strict'
import { test } from 'node:test'
import { checkBroadcastKey } from '../../src/auth/broadcast-key.js'

// README: "Without --broadcast-key only loopback clients may publish, and never a browser."
// Tests run on loopback only, so the non-loopback side of the guard is checked here, on the
// function itself.
const refusedWith = (code: string) => (err: unknown) => (err as { code?: string }).code === code

const LOOPBACK = ['127.0.0.1', '127.0.0.2', '127.255.255.254', '::1', '::ffff:127.0.0.1', '::ffff:127.1.2.3']
const ELSEWHERE = ['10.0.0.1', '192.168.1.20', '172.16.0.1', '128.0.0.1', '1.127.0.0', '0.0.0.0', '::', '::2', 'fe80::1',
  '2001:db8::1', '::ffff:10.0.0.1', '::ffff:128.0.0.1', '', undefined]
const JSON_TYPE = { 'content-type': 'application/json' }
const headers = (authorization?: string) => (authorization === undefined ? JSON_TYPE : { ...JSON_TYPE, authorization })

test('without a key, every loopback address (127.0.0.0/8, ::1, IPv4-mapped 127/8) may publish, with or without a header', () => {
  for (const address of LOOPBACK) {
    assert.doesNotThrow(() => checkBroadcastKey('', headers(), address), address)
    assert.doesNotThrow(() => checkBroadcastKey('', headers('Bearer anything'), address), address)
  }
})

test('without a key, any other address is refused with HERALD_ERR_UNAUTHORIZED, whatever it sends', () => {
  for (const address of ELSEWHERE) {
    assert.throws(() => checkBroadcastKey('', headers(), address), refusedWith('HERALD_ERR_UNAUTHORIZED'), String(address))
    assert.throws(() => checkBroadcastKey('', headers('Bearer anything'), address), refusedWith('HERALD_ERR_UNAUTHORIZED'), String(address))
  }
})

test('without a key, a loopback request that a web page could have made is refused: Origin, Sec-Fetch-Site, a preflight-free or missing content type', () => {
  const browserLike = [
    { ...JSON_TYPE, origin: 'http://evil.example' },
    { ...JSON_TYPE, origin: 'null' },
    { ...JSON_TYPE, 'sec-fetch-site': 'cross-site' },
    { 'content-type': 'text/plain;charset=UTF-8' },
    { 'content-type': 'application/x-www-form-urlencoded' },
    { 'content-type': 'multipart/form-data; boundary=x' },
    {},
  ]
  for (const h of browserLike) assert.throws(() => checkBroadcastKey('', h, '127.0.0.1'), refusedWith('HERALD_ERR_UNAUTHORIZED'), JSON.stringify(h))
  // Node's fetch sends Sec-Fetch-Mode (not Sec-Fetch-Site): a backend on the same machine may publish.
  assert.doesNotThrow(() => checkBroadcastKey('', { ...JSON_TYPE, 'sec-fetch-mode': 'cors' }, '127.0.0.1'))
})

test('with a key, the address does not matter: Bearer <key> is required from loopback too, and enough from anywhere', () => {
  for (const address of [...LOOPBACK, '10.0.0.1', '2001:db8::1']) {
    assert.doesNotThrow(() => checkBroadcastKey('k3y', headers('Bearer k3y'), address), address)
    assert.doesNotThrow(() => checkBroadcastKey('k3y', headers('bearer  k3y '), address), `${address}: scheme case and spaces`)
    for (const header of [undefined, '', 'Bearer', 'Bearer k3', 'Bearer k3yy', 'Basic k3y', 'k3y']) {
      assert.throws(() => checkBroadcastKey('k3y', headers(header), address), refusedWith('HERALD_ERR_UNAUTHORIZED'), `${address} ${header}`)
    }
  }
})
