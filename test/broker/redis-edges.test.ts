// The Redis broker at its edges, on the shared test Redis (each test in a key prefix of its own,
// removed after): payloads on Herald's channels that Herald did not write, history limits that
// are not plain integers, start() against a server that accepts and never answers, what
// createBroker hands the broker from the configuration (default address, key prefix, meta TTL),
// and the round-trip counters bench/brokers.ts reports.
import { Redis } from 'ioredis'
import assert from 'node:assert/strict'
import net from 'node:net'
import { after, afterEach, describe, test } from 'node:test'
import { BrokerUnavailable, type Broker, type BrokerState } from '../../src/broker/broker.js'
import { createBroker } from '../../src/broker/create-broker.js'
import { RedisBroker } from '../../src/broker/redis-broker.js'
import { RedisKeys } from '../../src/broker/redis-keys.js'
import { loadConfig } from '../../src/config/load.js'
import { until } from '../support/util.js'
import { recordingEvents } from '../support/broker-events.js'

const url = process.env.HERALD_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
const RUN = `re${process.pid.toString(36)}${Date.now().toString(36)}`
let spaces = 0
const prefixes: string[] = []
const opened: Broker[] = []

const admin = new Redis(url)
after(async () => {
  for (const p of prefixes) {
    const keys = await admin.keys(`${p}*`)
    if (keys.length > 0) await admin.del(...keys)
  }
  await admin.quit()
})
afterEach(async () => { for (const b of opened.splice(0)) await b.close() })

const recorder = recordingEvents

async function redisBroker(events = recorder(), historyLimit = 100) {
  const prefix = `herald-test:${RUN}x${++spaces}:`
  prefixes.push(prefix)
  const broker = new RedisBroker(events, { url, prefix, historyLimit, historyTtlMs: 60_000, historyMetaTtlMs: 60_000 })
  opened.push(broker)
  await broker.start()
  return { broker, events, keys: new RedisKeys(prefix) }
}

describe('Redis broker edges', () => {
  test("control messages Herald did not write are ignored; a well-formed one after them arrives alone", async () => {
    const { broker, events, keys } = await redisBroker()
    for (const payload of ['not json', '{"0":"t","1":"p"}', '[1,"p"]', '["t",2]', '["t"]', 'null']) await admin.publish(keys.control, payload)
    await admin.publish(keys.control, '["topic","payload"]')
    await until(() => events.notes.length > 0, 'the well-formed control message')
    assert.deepEqual(events.notes, [['topic', 'payload']])
    assert.equal(broker.state, 'up')
  })

  test("a payload on a stream's channel that is not '<offset>:<epoch>:<at>:<data>' is dropped; the next publish is delivered", async () => {
    const { broker, events, keys } = await redisBroker()
    await broker.subscribe('s')
    const channel = keys.stream('s')[2]
    for (const payload of ['garbage', '1:ep', '1:ep:2']) await admin.publish(channel, payload)
    const m = await broker.publish('s', '{"a":"b:c"}')
    await until(() => events.messages.length > 0, 'the published message')
    assert.deepEqual(events.messages, [m])
    assert.equal(m.data, '{"a":"b:c"}')
  })

  test('history limits: Infinity is every kept message, a fraction is rounded down (at most that many)', async () => {
    const { broker } = await redisBroker()
    let epoch = ''
    for (let i = 1; i <= 5; i++) epoch = (await broker.publish('h', String(i))).epoch
    const after = { epoch, offset: 1 }
    const offsets = async (limit: number) => (await broker.history('h', { after, limit })).messages.map((m) => m.offset)
    assert.deepEqual(await offsets(Infinity), [2, 3, 4, 5])
    assert.deepEqual(await offsets(2.5), [2, 3])
    assert.deepEqual(await offsets(0.5), [], 'less than one: the top only')
    assert.deepEqual((await broker.history('h', { sinceMs: 0, limit: 3.9 })).messages.map((m) => m.offset), [1, 2, 3])
  })

  test('counters: one script per publication and per history read, one command per store operation (bench/brokers.ts)', async () => {
    const { broker } = await redisBroker()
    assert.deepEqual(broker.counters, { publishScripts: 0, historyScripts: 0, storeCommands: 0 })
    await broker.publish('c', '1')
    await broker.publishBatch([{ stream: 'c', data: '2' }, { stream: 'd', data: '1' }])
    await broker.history('c', { sinceMs: 0 })
    const store = broker.store('n', 60_000)
    await store.set('k', 'v')
    await store.get('k')
    await store.take('k')
    await store.delete('k')
    assert.deepEqual(broker.counters, { publishScripts: 3, historyScripts: 1, storeCommands: 4 })
  })

  test("a stream's epoch and offset outlive its history by --history-meta-ttl, never by less than --history-ttl", async () => {
    const prefix = `herald-test:${RUN}x${++spaces}:`
    prefixes.push(prefix)
    const broker = new RedisBroker(recorder(), { url, prefix, historyLimit: 10, historyTtlMs: 60_000, historyMetaTtlMs: 1_000 })
    opened.push(broker)
    await broker.start()
    await broker.publish('m', '1')
    const [meta] = new RedisKeys(prefix).stream('m')
    const ttl = await admin.pttl(meta)
    assert.ok(ttl > 50_000 && ttl <= 60_000, `meta key expires in ${ttl} ms: the history TTL, not the shorter meta TTL`)
  })

  test("start() against a server that accepts but never answers: BrokerUnavailable naming the address and the wait, and no error to add", async () => {
    const sockets: net.Socket[] = []
    const silent = net.createServer((s) => void sockets.push(s))
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const dead = `redis://127.0.0.1:${(silent.address() as net.AddressInfo).port}`
    const states: BrokerState[] = []
    const broker = new RedisBroker({ message() {}, stateChanged: (s) => void states.push(s) }, {
      url: dead, prefix: 'herald-test:silent:', historyLimit: 1, historyTtlMs: 1000, historyMetaTtlMs: 1000, startTimeoutMs: 300,
    })
    try {
      await assert.rejects(broker.start(), (err) => err instanceof BrokerUnavailable && err.message === `Redis at ${dead} did not answer within 300 ms`)
      assert.equal(broker.state, 'closed')
      assert.deepEqual(states, ['closed'])
    } finally {
      for (const s of sockets) s.destroy()
      silent.close()
    }
  })
})

describe('createBroker: the configuration reaching the Redis broker', () => {
  test('no --redis-url: the local default; keys under "<--broker-prefix>:"; --history-meta-ttl in seconds', async () => {
    const prefix = `${RUN.replace(/[^A-Za-z0-9_-]/g, '')}cfg`
    prefixes.push(`${prefix}:`)
    const broker = createBroker(recorder(), loadConfig({ argv: ['--broker', 'redis', '--broker-prefix', prefix, '--history-ttl', '60', '--history-meta-ttl', '600'], env: {} }))
    opened.push(broker)
    await broker.start()
    assert.equal(broker.state, 'up')
    await broker.publish('cfg', '1')
    const [meta, log] = new RedisKeys(`${prefix}:`).stream('cfg')
    assert.equal(await admin.exists(meta, log), 2, `${meta} and ${log} exist`)
    const ttl = await admin.pttl(meta)
    assert.ok(ttl > 500_000 && ttl <= 600_000, `meta key expires in ${ttl} ms (600 s)`)
  })
})
