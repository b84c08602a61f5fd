// The NATS JetStream broker at its edges, on the shared test server (each test under a prefix of
// its own, whose JetStream streams are deleted after): control payloads Herald did not write, the
// round trips a node saves by remembering positions (the counters bench/brokers.ts reports), two
// nodes fixing a fresh stream's epoch at once, work after close(), a history stream whose limits
// or options differ from this node's, subjects another stream already holds, and what createBroker and start() hand the client.
import { DiscardPolicy, jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream'
import { connect, headers, nanos, type NatsConnection } from '@nats-io/transport-node'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, afterEach, describe, test } from 'node:test'
import { BrokerUnavailable, type Broker } from '../../src/broker/broker.js'
import { createBroker } from '../../src/broker/create-broker.js'
import { NatsBroker } from '../../src/broker/nats-broker.js'
import { NatsNames } from '../../src/broker/nats-names.js'
import { loadConfig } from '../../src/config/load.js'
import type { StreamMessage } from '../../src/protocol/messages.js'
import { until } from '../support/util.js'
import { freePort } from './servers.js'
import { recordingEvents } from '../support/broker-events.js'

const url = process.env.HERALD_TEST_NATS_URL ?? 'nats://127.0.0.1:4222'
const RUN = `hte_${process.pid.toString(36)}${Date.now().toString(36)}`
let spaces = 0
const opened: Broker[] = []
let admin: NatsConnection | undefined

const nc = async () => (admin ??= await connect({ servers: url }))
afterEach(async () => { for (const b of opened.splice(0)) await b.close() })
after(async () => {
  const c = await nc()
  const jsm = await jetstreamManager(c)
  for await (const name of jsm.streams.names()) if (name.includes(RUN)) await jsm.streams.delete(name)
  await c.close()
})

const recorder = recordingEvents

const space = () => `${RUN}_${++spaces}`

async function natsBroker(prefix = space(), options: { historyLimit?: number; historyTtlMs?: number } = {}) {
  const events = recorder()
  const broker = new NatsBroker(events, { url, prefix, historyLimit: options.historyLimit ?? 100, historyTtlMs: options.historyTtlMs ?? 60_000 })
  opened.push(broker)
  await broker.start()
  return { broker, events, prefix }
}

describe('NATS broker edges', () => {
  test('control messages Herald did not write are ignored; a well-formed one after them arrives alone', async () => {
    const { broker, events, prefix } = await natsBroker()
    const c = await nc()
    const control = new NatsNames(prefix).control
    for (const payload of ['not json', '{"0":"t","1":"p"}', '[1,"p"]', '["t",2]', '["t"]', 'null']) c.publish(control, payload)
    c.publish(control, '["topic","payload"]')
    await c.flush()
    await until(() => events.notes.length > 0, 'the well-formed control message')
    assert.deepEqual(events.notes, [['topic', 'payload']])
    assert.equal(broker.state, 'up')
  })

  test('positions a node remembers save round trips; a stale one costs one lost race and one read (counters)', async () => {
    const a = await natsBroker()
    const b = await natsBroker(a.prefix)
    await a.broker.subscribe('s')
    assert.deepEqual(b.broker.counters, { publishes: 0, topReads: 0, conflicts: 0, historyReads: 0 })
    await b.broker.publish('s', '1') // b reads the top once, then remembers its own publishes
    await b.broker.publish('s', '2')
    assert.deepEqual(b.broker.counters, { publishes: 2, topReads: 1, conflicts: 0, historyReads: 0 })
    await until(() => a.events.messages.length === 2, 'both live on a')
    const third = await a.broker.publish('s', '3') // a knows the top from the live messages
    assert.equal(third.offset, 3)
    assert.deepEqual(a.broker.counters, { publishes: 1, topReads: 0, conflicts: 0, historyReads: 0 })
    const fourth = await b.broker.publish('s', '4') // b's remembered top is stale: refused once, read again
    assert.deepEqual([fourth.offset, fourth.epoch], [4, third.epoch])
    assert.deepEqual(b.broker.counters, { publishes: 4, topReads: 2, conflicts: 1, historyReads: 0 })
    assert.deepEqual((await a.broker.history('s', { sinceMs: 0 })).messages.map((m) => m.data), ['1', '2', '3', '4'])
    assert.equal(a.broker.counters.historyReads, 1)
  })

  test('a node publishing to several streams in turn reads each top once and then follows its own publishes', async () => {
    const { broker } = await natsBroker()
    for (let round = 1; round <= 3; round++) {
      for (const s of ['x', 'y', 'z']) assert.equal((await broker.publish(s, String(round))).offset, round)
    }
    assert.deepEqual(broker.counters, { publishes: 9, topReads: 3, conflicts: 0, historyReads: 0 })
    await broker.subscribe('x') // its own publishes come back live: they must not move the remembered top back
    await broker.publish('x', '4')
    await broker.publish('x', '5')
    assert.deepEqual(broker.counters, { publishes: 11, topReads: 3, conflicts: 0, historyReads: 0 })
  })

  test("the offset-0 marker that fixes a fresh stream's epoch is neither delivered nor served as history", async () => {
    const { broker, events } = await natsBroker()
    await broker.subscribe('marked')
    const fresh = (await broker.history('marked', { limit: 0 })).top // writes the marker
    const m = await broker.publish('marked', '1')
    await until(() => events.messages.length > 0, 'the publication live')
    assert.deepEqual(events.messages, [m])
    assert.deepEqual((await broker.history('marked', { sinceMs: 0 })).messages, [m])
    assert.deepEqual((await broker.history('marked', { after: fresh })).messages, [m])
  })

  test('publishes to one stream keep their call order, also those made while earlier ones are in flight', async () => {
    const { broker } = await natsBroker()
    const calls: Promise<StreamMessage>[] = []
    for (let i = 1; i <= 10; i++) calls.push(broker.publish('order', String(i)))
    await calls[0]
    for (let i = 11; i <= 20; i++) calls.push(broker.publish('order', String(i)))
    const got = await Promise.all(calls)
    assert.deepEqual(got.map((m) => [m.offset, m.data]), got.map((_, i) => [i + 1, String(i + 1)]))
    assert.equal(broker.counters.conflicts, 0, 'one node never races itself')
    assert.deepEqual((await broker.history('order', { sinceMs: 0 })).messages.map((m) => m.data), got.map((m) => m.data))
  })

  test('two nodes reading fresh streams at once agree on each epoch, and the first publish continues it', async () => {
    const a = await natsBroker()
    const b = await natsBroker(a.prefix)
    const streams = Array.from({ length: 20 }, (_, i) => `fresh-${i}`)
    const tops = await Promise.all(streams.flatMap((s) => [a.broker, b.broker].map(async (x) => (await x.history(s, { limit: 0 })).top)))
    for (let i = 0; i < streams.length; i++) {
      assert.deepEqual(tops[2 * i], tops[2 * i + 1], `${streams[i]}: both nodes see one epoch`)
      assert.equal(tops[2 * i].offset, 0)
    }
    const first = await b.broker.publish('fresh-0', '1')
    assert.deepEqual({ offset: first.offset, epoch: first.epoch }, { offset: 1, epoch: tops[0].epoch })
  })

  test('after close(), every operation rejects with BrokerUnavailable saying why; the state stays closed', async () => {
    const states: string[] = []
    const broker = new NatsBroker({ message() {}, stateChanged: (state) => void states.push(state) }, { url, prefix: space(), historyLimit: 10, historyTtlMs: 60_000 })
    opened.push(broker)
    await broker.start()
    const store = broker.store('after-close', 60_000)
    await store.set('k', 'v')
    await broker.close()
    const closed = (err: unknown) => err instanceof BrokerUnavailable && err.message === 'nats: closed'
    await assert.rejects(broker.publish('s', '1'), closed)
    await assert.rejects(broker.subscribe('s'), closed)
    await assert.rejects(broker.notify('t', 'p'), closed)
    await assert.rejects(broker.history('s'), closed)
    await assert.rejects(store.get('k'), closed)
    assert.deepEqual(states, ['up', 'closed'])
    assert.equal(broker.state, 'closed')
  })

  test('live messages Herald did not write: without headers or a position they are ignored; one without a stored sequence is delivered but not taken as the position to publish after', async () => {
    const { broker, events, prefix } = await natsBroker()
    await broker.subscribe('s')
    const c = await nc()
    const live = new NatsNames(prefix).live('s')
    c.publish(live, 'no headers')
    const unpositioned = headers()
    unpositioned.set('Herald-Epoch', 'forged')
    c.publish(live, 'no position', { headers: unpositioned })
    const unsequenced = headers()
    unsequenced.set('Herald-Offset', '7')
    unsequenced.set('Herald-Epoch', 'forged')
    unsequenced.set('Herald-At', String(Date.now()))
    c.publish(live, 'no stored sequence', { headers: unsequenced })
    await c.flush()
    await until(() => events.messages.length === 1, 'the forged message with a position')
    assert.deepEqual(events.messages.map((m) => [m.data, m.offset, m.epoch]), [['no stored sequence', 7, 'forged']])
    // Nothing is stored on the stream: the node reads that and starts it at 1 in an epoch of its own.
    const first = await broker.publish('s', '1')
    assert.equal(first.offset, 1)
    assert.notEqual(first.epoch, 'forged')
    assert.deepEqual([broker.counters.topReads, broker.counters.conflicts], [1, 0])
  })

  test('a publish NATS refuses for itself (over the server\'s max_payload) rejects with BrokerUnavailable carrying the cause; the stream goes on', async () => {
    const { broker } = await natsBroker()
    const first = await broker.publish('big', '1')
    await assert.rejects(broker.publish('big', 'x'.repeat(2 * 1024 * 1024)), (err) => err instanceof BrokerUnavailable
      && err.message.startsWith('nats: ') && err.cause instanceof Error && err.message === `nats: ${err.cause.message}`)
    assert.equal(broker.counters.conflicts, 0, 'not taken for a lost race and retried')
    const next = await broker.publish('big', '2')
    assert.deepEqual([next.offset, next.epoch], [2, first.epoch])
  })

  test('a store operation NATS refuses (a value over max_payload) rejects with BrokerUnavailable carrying the cause; the store goes on', async () => {
    const { broker } = await natsBroker()
    const store = broker.store('big-values', 60_000)
    await assert.rejects(store.set('k', 'x'.repeat(2 * 1024 * 1024)), (err) => err instanceof BrokerUnavailable
      && err.cause instanceof Error && err.message === `nats: ${err.cause.message}`)
    await store.set('k', 'small')
    assert.equal(await store.take('k'), 'small')
  })

  test('a subscribe, a notify, a store operation and a history read still waiting for the server when the broker closes reject with BrokerUnavailable', async () => {
    const { broker } = await natsBroker()
    const store = broker.store('in-flight', 60_000)
    await store.set('k', 'v')
    const subscribing = broker.subscribe('in-flight')
    const notifying = broker.notify('t', 'p')
    const reading = store.get('k')
    const history = broker.history('in-flight', { sinceMs: 0 })
    await broker.close()
    const closed = (err: unknown) => err instanceof BrokerUnavailable && err.message === 'nats: closed'
    await assert.rejects(subscribing, closed)
    await assert.rejects(notifying, closed)
    await assert.rejects(reading, closed)
    await assert.rejects(history, closed)
    assert.equal(broker.streamCount, 0)
  })

  test("a store's KV bucket keeps one value per key for the store's TTL (whole milliseconds)", async () => {
    const { broker, prefix } = await natsBroker()
    await broker.store('limits', 1500.4).set('k', 'v')
    const jsm = await jetstreamManager(await nc())
    const config = (await jsm.streams.info(`KV_${new NatsNames(prefix).bucket('limits')}`)).config
    assert.equal(config.max_age, nanos(1500))
    assert.equal(config.max_msgs_per_subject, 1)
  })

  test("a history stream made with other limits is brought in line with this node's", async () => {
    const { prefix } = await natsBroker(space(), { historyLimit: 5, historyTtlMs: 60_000 })
    const jsm = await jetstreamManager(await nc())
    const name = new NatsNames(prefix).historyStream
    await natsBroker(prefix, { historyLimit: 2, historyTtlMs: 60_000 })
    assert.equal((await jsm.streams.info(name)).config.max_msgs_per_subject, 2, '--history-limit')
    await natsBroker(prefix, { historyLimit: 2, historyTtlMs: 30_000 })
    assert.equal((await jsm.streams.info(name)).config.max_age, nanos(30_000), '--history-ttl')
  })

  test('a history stream made without republish is given it, or start() says how to go on where the server refuses (nats-server 2.9)', async () => {
    const prefix = space()
    const n = new NatsNames(prefix)
    const jsm = await jetstreamManager(await nc())
    await jsm.streams.add({
      name: n.historyStream, subjects: [`${n.prefix}.s.>`], retention: RetentionPolicy.Limits, storage: StorageType.File,
      discard: DiscardPolicy.Old, max_msgs_per_subject: 100, max_age: nanos(60_000), num_replicas: 1, allow_direct: true,
    })
    const broker = new NatsBroker(recorder(), { url, prefix, historyLimit: 100, historyTtlMs: 60_000 })
    opened.push(broker)
    // Which of the two depends on the server's version, not on Herald: 2.9 refuses the update.
    const refused = await broker.start().then(() => undefined, (err: unknown) => err)
    if (refused) {
      assert.ok(refused instanceof BrokerUnavailable)
      assert.match(refused.message, new RegExp(`JetStream stream ${n.historyStream} has no republish.*remove the stream \\(its history is lost\\) or use another --broker-prefix`))
      assert.notEqual(broker.state, 'up')
    } else {
      assert.ok((await jsm.streams.info(n.historyStream)).config.republish, 'republish added')
    }
  })

  test('a history stream made without direct get (as by an older node) gets it; reads and live delivery work', async () => {
    for (const missing of ['allow_direct'] as const) {
      const prefix = space()
      const n = new NatsNames(prefix)
      const jsm = await jetstreamManager(await nc())
      await jsm.streams.add({
        name: n.historyStream, subjects: [`${n.prefix}.s.>`], retention: RetentionPolicy.Limits, storage: StorageType.File,
        discard: DiscardPolicy.Old, max_msgs_per_subject: 100, max_age: nanos(60_000), num_replicas: 1,
        republish: { src: `${n.prefix}.s.>`, dest: `${n.prefix}.live.>` },
      })
      const { broker, events } = await natsBroker(prefix, { historyLimit: 100, historyTtlMs: 60_000 })
      const config = (await jsm.streams.info(n.historyStream)).config
      assert.ok(config.republish && config.allow_direct, `${missing} set`)
      await broker.subscribe('s')
      const m = await broker.publish('s', '1')
      await until(() => events.messages.length === 1, `live delivery (${missing} was missing)`)
      assert.deepEqual(events.messages, [m])
      assert.deepEqual((await broker.history('s', { sinceMs: 0 })).messages, [m])
    }
  })

  test("start() where another JetStream stream holds this prefix's subjects rejects with BrokerUnavailable", async () => {
    const prefix = space()
    const jsm = await jetstreamManager(await nc())
    await jsm.streams.add({ name: `${prefix}_squatter`, subjects: [`${prefix}.s.>`], storage: StorageType.Memory })
    const broker = new NatsBroker(recorder(), { url, prefix, historyLimit: 10, historyTtlMs: 60_000 })
    opened.push(broker)
    await assert.rejects(broker.start(), (err) => err instanceof BrokerUnavailable && err.cause instanceof Error
      && err.message === `NATS at ${url}: ${err.cause.message}` && err.cause.message.length > 0)
    assert.notEqual(broker.state, 'up')
  })
})

describe('createBroker and start(): the options reaching the NATS client', () => {
  test('no --nats-url: the local default; the history stream is named after --broker-prefix', async () => {
    const prefix = space()
    const broker = createBroker(recorder(), loadConfig({ argv: ['--broker', 'nats', '--broker-prefix', prefix], env: {} }))
    opened.push(broker)
    await broker.start()
    assert.equal(broker.state, 'up')
    await broker.publish('cfg', '1')
    const jsm = await jetstreamManager(await nc())
    assert.equal((await jsm.streams.info(`${prefix}_history`)).state.messages, 1)
  })

  test('the connection is named "herald" on the server (its monitoring lists it so)', async () => {
    const port = await freePort()
    const monitor = await freePort()
    const dir = mkdtempSync(join(tmpdir(), 'herald-nats-'))
    const bin = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'].find((p) => existsSync(p)) ?? 'nats-server'
    const server = spawn(bin, ['-a', '127.0.0.1', '-p', String(port), '-m', String(monitor), '-js', '-sd', dir], { stdio: 'ignore' })
    try {
      const connz = async () => {
        try {
          return (await (await fetch(`http://127.0.0.1:${monitor}/connz`)).json()) as { connections?: { name?: string }[] }
        } catch {
          return undefined
        }
      }
      await until(connz, 'the NATS server monitoring port')
      const broker = new NatsBroker(recorder(), { url: `nats://127.0.0.1:${port}`, prefix: 'named', historyLimit: 1, historyTtlMs: 60_000 })
      opened.push(broker)
      await broker.start()
      const names = await until(async () => (await connz())?.connections?.map((c) => c.name), 'the connection listed')
      assert.deepEqual(names, ['herald'])
      await broker.close()
    } finally {
      const exited = new Promise((resolve) => server.once('exit', resolve))
      server.kill('SIGTERM')
      await exited
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
