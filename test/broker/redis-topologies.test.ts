// The Redis broker behind Sentinel and on Redis Cluster (redis+sentinel://, redis+cluster://), on
// servers of the test's own: a redis-server with a Sentinel in front of it (the broker asks the
// Sentinel where the master is), and a one-node cluster that holds every slot (the keys of a
// stream share one hash tag, so its publish script runs in one slot). Each broker publishes,
// delivers live, serves history and keeps a store value.
import { spawn, type ChildProcess } from 'node:child_process'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { after, test } from 'node:test'
import { RedisBroker } from '../../src/broker/redis-broker.js'
import type { StreamMessage } from '../../src/protocol/messages.js'
import { until } from '../support/util.js'
import { freePort } from './servers.js'

const bin = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((p) => existsSync(p)) ?? 'redis-server'
const children: ChildProcess[] = []
const dirs: string[] = []
after(async () => {
  for (const c of children) {
    if (c.exitCode !== null) continue
    const exited = new Promise((resolve) => c.once('exit', resolve))
    c.kill('SIGTERM')
    await exited
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

/** A redis-server on a free port with `args`; resolves once it answers PING. */
async function server(args: string[], configFile?: string): Promise<number> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'herald-topo-'))
  dirs.push(dir)
  const argv = [...(configFile ? [join(dir, 'sentinel.conf')] : []), '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', ...args]
  if (configFile) writeFileSync(join(dir, 'sentinel.conf'), configFile)
  const child = spawn(bin, argv, { stdio: 'ignore' })
  child.on('error', () => {})
  children.push(child)
  const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => 50, maxRetriesPerRequest: 0 })
  probe.on('error', () => {})
  await until(async () => (await probe.ping().catch(() => '')) === 'PONG', `redis-server on ${port}`)
  probe.disconnect()
  return port
}

async function exercise(url: string): Promise<void> {
  const messages: StreamMessage[] = []
  const broker = new RedisBroker({ message: (m) => void messages.push(m) }, {
    url, prefix: 'herald-test:topo:', historyLimit: 10, historyTtlMs: 60_000, historyMetaTtlMs: 60_000,
  })
  try {
    await broker.start()
    assert.equal(broker.state, 'up')
    await broker.subscribe('room{1}')
    const sent = [await broker.publish('room{1}', '1'), ...await broker.publishBatch([{ stream: 'room{1}', data: '2' }, { stream: 'other', data: '1' }])]
    assert.deepEqual(sent.map((m) => m.offset), [1, 2, 1])
    await until(() => messages.length === 2, 'both messages of room{1} live')
    assert.deepEqual(messages, sent.slice(0, 2))
    assert.deepEqual((await broker.history('room{1}', { after: { epoch: sent[0].epoch, offset: 0 } })).messages, sent.slice(0, 2))
    const store = broker.store('s', 60_000)
    await store.set('k', 'v')
    assert.equal(await store.take('k'), 'v')
  } finally {
    await broker.close()
  }
}

test('redis+sentinel://: the broker finds the master through the Sentinel and works', async () => {
  const master = await server([])
  const sentinel = await server(['--sentinel'], `sentinel monitor main 127.0.0.1 ${master} 1\n`)
  await exercise(`redis+sentinel://127.0.0.1:${sentinel}/main`)
})

test('redis+cluster://: on a one-node cluster holding every slot, the broker works', async () => {
  const port = await server(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-announce-ip', '127.0.0.1'])
  const admin = new Redis({ port, host: '127.0.0.1' })
  try {
    await admin.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383')
    await until(async () => /cluster_state:ok/.test(String(await admin.call('CLUSTER', 'INFO'))), 'the cluster ok')
  } finally {
    admin.disconnect()
  }
  await exercise(`redis+cluster://127.0.0.1:${port}`)
})
