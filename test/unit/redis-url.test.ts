// parseRedisUrl, which checks --redis-url at start-up: the schemes it takes, what a malformed
// Sentinel or Cluster host list is told, credentials (URL-encoded) and the default ports.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseRedisUrl } from '../../src/broker/redis-connect.js'

test('only redis://, rediss://, redis+sentinel:// and redis+cluster:// are Redis URLs', () => {
  assert.deepEqual(parseRedisUrl('rediss://h:6380'), { kind: 'single' })
  for (const url of ['http://h:6379', 'redis+other://h:1', 'h:6379', '']) {
    assert.throws(() => parseRedisUrl(url), { message: `"${url}" is not a Redis URL (redis://, rediss://, redis+sentinel:// or redis+cluster://)` })
  }
  assert.throws(() => parseRedisUrl('redis://a b'), /Invalid URL/)
})

test('a Sentinel or Cluster list with no host, an empty host or a port that is not a number is refused', () => {
  for (const url of ['redis+cluster://', 'redis+cluster://,', 'redis+cluster://:7000', 'redis+cluster://n1:7000,:7001', 'redis+cluster://n1:x', 'redis+sentinel://s1:1.5/m']) {
    assert.throws(() => parseRedisUrl(url), { message: `"${url}" lists no valid host:port` })
  }
  assert.throws(() => parseRedisUrl('redis+sentinel://s1:26379/'), { message: '"redis+sentinel://s1:26379/" names no master (redis+sentinel://host:port/<master name>)' })
})

test('credentials are URL-decoded; ports default to 26379 (Sentinel) and 6379 (Cluster)', () => {
  assert.deepEqual(parseRedisUrl('redis+sentinel://me:p%40ss%3Aw@s1,s2:26380/main'), {
    kind: 'sentinel', hosts: [{ host: 's1', port: 26379 }, { host: 's2', port: 26380 }], name: 'main', username: 'me', password: 'p@ss:w',
  })
  assert.deepEqual(parseRedisUrl('redis+cluster://a@b:pw@n1'), {
    kind: 'cluster', hosts: [{ host: 'n1', port: 6379 }], name: '', username: 'a@b', password: 'pw',
  })
  assert.deepEqual(parseRedisUrl('redis+cluster://n1:7000,'), {
    kind: 'cluster', hosts: [{ host: 'n1', port: 7000 }], name: '', username: undefined, password: undefined,
  }, 'a trailing comma is no host')
})
