// `herald --workers 2` on one port: node:cluster hands connections to both processes, which share
// streams through Redis, so a broadcast that lands on either reaches every client; GET /metrics
// on any of them sums both.
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { WireClient } from '../support/herald.js'
import { metric, until } from '../support/util.js'
import { publicId } from '../support/wire.js'
import { BROKERS, runPrefix } from './brokers.js'
import { startNode, type NodeProcess } from './processes.js'

const redis = BROKERS.find((b) => b.name === 'redis')!
const prefix = runPrefix('w')
let node: NodeProcess | undefined
after(async () => {
  await node?.kill()
  await redis.clean(prefix)
})

test('--workers 2 serves one port from two processes; a broadcast published to either reaches every client', async () => {
  node = await startNode(['--workers', '2', '--broker', 'redis', '--redis-url', String(redis.config(prefix).redisUrl), '--broker-prefix', prefix, '--public-streams'])
  // New connections go to the workers in turn: both answer.
  const nodes = new Set<string>()
  await until(async () => {
    const res = await fetch(`${node!.url}/health`, { headers: { connection: 'close' } })
    nodes.add(res.headers.get('x-herald-node') ?? '')
    return nodes.size === 2
  }, 'both workers answering /health')
  const clients: WireClient[] = []
  for (let i = 0; i < 8; i++) {
    const c = await WireClient.connect(`${node.url.replace('http', 'ws')}/cable`)
    await c.waitForType('welcome')
    c.send({ command: 'subscribe', identifier: publicId('workers') })
    await c.waitForType('confirm_subscription')
    clients.push(c)
  }
  // Each publish is a new connection, so they land on both workers.
  for (let n = 1; n <= 6; n++) {
    const res: Response = await fetch(`${node!.url}/_broadcast`, { method: 'POST', headers: { 'content-type': 'application/json', connection: 'close' }, body: JSON.stringify({ stream: 'workers', data: { n } }) })
    assert.equal(res.status, 201)
  }
  for (const c of clients) {
    await until(() => c.data().length === 6, 'six messages on every client')
    assert.deepEqual(c.data().map((m) => m.message.n), [1, 2, 3, 4, 5, 6])
  }
  // The metrics of both workers, summed by the primary.
  assert.equal(await metric(node.url, 'herald_connections', { transport: 'ws' }), 8)
  assert.equal(await metric(node.url, 'herald_messages_published_total'), 6)
  for (const c of clients) c.close()
})

test('--workers 2 with the memory broker is refused with a clear message', async () => {
  await assert.rejects(startNode(['--workers', '2']), /more than one worker needs a shared broker: add --broker redis/)
})
