import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createBroker } from '../../src/broker/create-broker.js'
import { escapeToken, NatsNames } from '../../src/broker/nats-names.js'
import { parseRedisUrl } from '../../src/broker/redis-connect.js'
import { hashTag, RedisKeys } from '../../src/broker/redis-keys.js'
import { HeraldConfigError, loadConfig } from '../../src/config/load.js'

function problems(argv: string[]): string[] {
  try {
    loadConfig({ argv, env: {} })
  } catch (err) {
    assert.ok(err instanceof HeraldConfigError)
    return err.problems
  }
  assert.fail('configuration was accepted')
}

describe('broker options', () => {
  test('--broker picks the broker; memory is the default', async () => {
    const events = { message() {} }
    for (const [argv, kind] of [[[], 'memory'], [['--broker', 'redis'], 'redis'], [['--broker', 'nats'], 'nats']] as const) {
      const broker = createBroker(events, loadConfig({ argv: [...argv], env: {} }))
      assert.equal(broker.kind, kind)
      await broker.close()
    }
  })

  test('clear errors: an unknown broker, an address without its broker, a malformed address, a bad prefix', () => {
    assert.match(problems(['--broker', 'kafka']).join('\n'), /^broker: .*memory.*redis.*nats/)
    assert.deepEqual(problems(['--redis-url', 'redis://127.0.0.1:6379']), ['redisUrl: is set but --broker is memory: add --broker redis'])
    assert.deepEqual(problems(['--broker', 'redis', '--nats-url', 'nats://127.0.0.1:4222']), ['natsUrl: is set but --broker is redis: add --broker nats'])
    assert.match(problems(['--broker', 'redis', '--redis-url', 'http://x']).join('\n'), /redisUrl: "http:\/\/x" is not a Redis URL/)
    assert.match(problems(['--broker', 'nats', '--nats-url', 'nats://a b']).join('\n'), /natsUrl: .* is not a NATS URL list/)
    assert.match(problems(['--broker-prefix', 'a:b']).join('\n'), /brokerPrefix: letters, digits/)
    const ok = loadConfig({ argv: ['--broker', 'nats', '--nats-url', 'nats://u:p@10.0.0.1:4222,tls://n2:4222'], env: {} })
    assert.equal(ok.broker, 'nats')
  })

  test('Redis URLs: one server, Sentinel, Cluster', () => {
    assert.deepEqual(parseRedisUrl('redis://:pw@localhost:6380/2'), { kind: 'single' })
    assert.deepEqual(parseRedisUrl('redis+sentinel://:pw@s1:26379,s2/mymaster'), {
      kind: 'sentinel', hosts: [{ host: 's1', port: 26379 }, { host: 's2', port: 26379 }], name: 'mymaster', username: undefined, password: 'pw',
    })
    assert.deepEqual(parseRedisUrl('redis+cluster://n1:7000,n2:7001'), {
      kind: 'cluster', hosts: [{ host: 'n1', port: 7000 }, { host: 'n2', port: 7001 }], name: '', username: undefined, password: undefined,
    })
    assert.throws(() => parseRedisUrl('redis+sentinel://s1:26379'), /names no master/)
  })

  test("a stream's Redis keys share one hash tag, whatever braces its name holds", () => {
    const keys = new RedisKeys('herald:')
    assert.deepEqual(keys.stream('chat'), ['herald:{chat}:m', 'herald:{chat}:h', 'herald:{chat}'])
    const [meta, log] = keys.stream('a}b{c%')
    const tag = (key: string) => /\{([^}]*)\}/.exec(key)![1]
    assert.equal(tag(meta), tag(log))
    assert.equal(tag(meta), 'a%7db%7bc%25')
    assert.notEqual(hashTag('a%7d'), hashTag('a}'), 'escaping is injective')
  })

  test('NATS subject tokens and KV keys hold any stream name', () => {
    assert.equal(escapeToken('job-42_x'), 'job-42_x')
    assert.equal(escapeToken('a.b c*>='), 'a=2Eb=20c=2A=3E=3D')
    assert.equal(escapeToken('é'), '=C3=A9')
    assert.equal(escapeToken(''), '=')
    // Two hex digits always, or a control character before a hex letter would read as another byte.
    assert.equal(escapeToken('\u0002B'), '=02B')
    assert.notEqual(escapeToken('\u0002B'), escapeToken('+'))
    const n = new NatsNames('herald')
    assert.equal(n.stored('chat.room'), 'herald.s.chat=2Eroom')
    assert.equal(n.live('chat.room'), 'herald.live.chat=2Eroom')
    assert.equal(new NatsNames('my.prefix').historyStream, 'my_prefix_history')
  })
})

test('a store can be asked for before its broker started (it answers once the broker is up)', async () => {
  const { NatsBroker } = await import('../../src/broker/nats-broker.js')
  const broker = new NatsBroker({ message() {} }, { url: process.env.HERALD_TEST_NATS_URL ?? 'nats://127.0.0.1:4222', prefix: 'early', historyLimit: 1, historyTtlMs: 1000 })
  const store = broker.store('early', 1000)
  await assert.rejects(store.get('k'), /nats: starting/)
  await broker.close()
})
