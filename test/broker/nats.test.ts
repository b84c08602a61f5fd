import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BrokerUnavailable, type BrokerEvents } from '../../src/broker/broker.js'
import { NatsBroker } from '../../src/broker/nats-broker.js'
import { runBrokerConformance, type ConformanceOptions } from './conformance.js'
import { freePort, ownNats } from './servers.js'
import { until } from '../support/util.js'

const url = process.env.HERALD_TEST_NATS_URL ?? 'nats://127.0.0.1:4222'

async function create(events: BrokerEvents, o: ConformanceOptions, serverUrl = url): Promise<NatsBroker> {
  const broker = new NatsBroker(events, { url: serverUrl, prefix: `ht_${o.space}`, historyLimit: o.historyLimit, historyTtlMs: o.historyTtlMs })
  await broker.start()
  return broker
}

runBrokerConformance({
  name: 'nats',
  shared: true,
  create: (events, o) => create(events, o),
  /** The space's history stream and KV buckets (streams named KV_<bucket>). */
  async cleanup(space) {
    const nc = await connect({ servers: url })
    try {
      const jsm = await jetstreamManager(nc)
      for await (const name of jsm.streams.names()) if (name.includes(`ht_${space}_`)) await jsm.streams.delete(name)
    } finally {
      await nc.close()
    }
  },
  async restartable() {
    const server = await ownNats()
    return { ...server, create: (events, o) => create(events, o, server.url) }
  },
})

test('start() where no NATS answers rejects with BrokerUnavailable naming the address and the error', async () => {
  const dead = `nats://127.0.0.1:${await freePort()}`
  const broker = new NatsBroker({ message() {} }, { url: dead, prefix: 'dead', historyLimit: 1, historyTtlMs: 1000, startTimeoutMs: 300 })
  await assert.rejects(broker.start(), (err) => err instanceof BrokerUnavailable && err.message.startsWith(`NATS at ${dead}: `) && err.cause !== undefined)
  assert.notEqual(broker.state, 'up')
})

test('operators read why a node is down: the NATS server it lost, then up again once it is back, however many reconnects failed meanwhile', async () => {
  const server = await ownNats()
  const states: [string, string | undefined][] = []
  const broker = new NatsBroker({ message() {}, stateChanged: (state, detail) => void states.push([state, detail]) }, { url: server.url, prefix: 'why', historyLimit: 1, historyTtlMs: 60_000 })
  try {
    await broker.start()
    await server.stop()
    await until(() => broker.state === 'down', 'down', 10_000)
    // Down for a second: several reconnect attempts (every 250 ms) fail before it is back.
    await new Promise((resolve) => setTimeout(resolve, 1000))
    await server.start({ wipe: false })
    await until(() => broker.state === 'up', 'up again', 20_000)
    assert.deepEqual(states, [['up', undefined], ['down', `disconnected from ${new URL(server.url).host}`], ['up', undefined]])
  } finally {
    await broker.close()
    await server.close()
  }
})
