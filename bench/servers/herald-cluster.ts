// Herald as a cluster for `npm run bench -- cluster`: one node on a given broker, several nodes
// on one broker (clients spread over them round robin, the publisher on the first), or one
// port served by `--workers N`. Public streams, the same flags as the single-node adapter.
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { Redis } from 'ioredis'
import type { ChildProcess } from 'node:child_process'
import { BENCH_TMP, freePort, httpGet, spawnNode, stopChild, waitForPort, withChildren, type RunningServer, type ServerAdapter } from './server.js'
import { build, clientSpec, metric, publishTarget, ROOT } from './herald.js'

export const REDIS_URL = process.env.HERALD_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
export const NATS_URL = process.env.HERALD_TEST_NATS_URL ?? 'nats://127.0.0.1:4222'

export interface ClusterShape {
  /** The row's server name, e.g. `herald-redis-x3`. */
  name: string
  broker: 'memory' | 'redis' | 'nats'
  /** Separate Herald processes, each on its own port. */
  nodes: number
  /** `--workers` of each node (processes sharing its port). */
  workers: number
}

let runs = 0

/** Removes what a run left in the broker under its prefix (history, sessions, job records). */
async function cleanBroker(broker: ClusterShape['broker'], prefix: string): Promise<void> {
  if (broker === 'redis') {
    const redis = new Redis(REDIS_URL)
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
      cursor = next
      if (keys.length > 0) await redis.del(...keys)
    } while (cursor !== '0')
    await redis.quit()
  } else if (broker === 'nats') {
    const nc = await connect({ servers: NATS_URL })
    const jsm = await jetstreamManager(nc)
    for await (const name of jsm.streams.names()) if (name.startsWith(prefix)) await jsm.streams.delete(name)
    for await (const name of jsm.streams.names()) if (name.startsWith(`KV_${prefix}`)) await jsm.streams.delete(name)
    await nc.close()
  }
}

export function heraldCluster(shape: ClusterShape): ServerAdapter {
  return {
    name: shape.name,
    transports: () => ['ws', 'sse'],
    prepare: async () => build(),
    async start(): Promise<RunningServer> {
      const prefix = `bench${process.pid.toString(36)}${(runs++).toString(36)}`
      const ports: number[] = []
      const children: ChildProcess[] = []
      for (let i = 0; i < shape.nodes; i++) {
        const port = await freePort()
        const args = ['--port', String(port), '--public-streams', '--log-level', 'err', '--max-body-bytes', '1048576',
          '--broker', shape.broker, '--broker-prefix', prefix, '--workers', String(shape.workers)]
        if (shape.broker === 'redis') args.push('--redis-url', REDIS_URL)
        if (shape.broker === 'nats') args.push('--nats-url', NATS_URL)
        const child = spawnNode([`${ROOT}dist/cli/main.js`, ...args], `${BENCH_TMP}/herald-cluster-${port}.heap.json`, {}, false)
        await waitForPort(port, child)
        ports.push(port)
        children.push(child)
      }
      const pids = () => children.flatMap((c) => withChildren(c.pid))
      // --workers N: the port opens with the first worker; wait until /health has been answered by all of them.
      if (shape.workers > 1) await waitForWorkers(ports[0], shape.workers)
      return {
        pids,
        client: (t) => ({ ...clientSpec(t, ports[0]), ports }),
        // The publisher posts to the first node; the others get its messages through the broker.
        publish: publishTarget(ports[0]),
        // Every node's count (with --workers, one node's /metrics is already the sum of its workers).
        subscribers: async () => {
          let n = 0
          for (const port of ports) n += metric(await httpGet(port, '/metrics'), 'herald_subscriptions')
          return n
        },
        // Heap per connection is the idle scenario's question, asked of one node.
        heapUsed: async () => undefined,
        stop: async () => {
          await Promise.all(children.map(stopChild))
          await cleanBroker(shape.broker, prefix).catch((err: unknown) => process.stderr.write(`cleaning ${prefix}: ${(err as Error).message}\n`))
        },
      }
    },
  }
}

/** Until /health has named `workers` different nodes (x-herald-node), or 15 s. */
async function waitForWorkers(port: number, workers: number): Promise<void> {
  const seen = new Set<string>()
  const deadline = Date.now() + 15_000
  while (seen.size < workers && Date.now() < deadline) {
    // A new connection per request, so the primary hands it to the next worker.
    const res = await fetch(`http://127.0.0.1:${port}/health`, { headers: { connection: 'close' } })
    const node = res.headers.get('x-herald-node')
    if (node) seen.add(node)
  }
}
