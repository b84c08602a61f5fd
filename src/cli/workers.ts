import cluster, { type Worker } from 'node:cluster'
import { randomBytes } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { AggregatorRegistry } from 'prom-client'
import type { HeraldConfig } from '../config/schema.js'

/** How many processes `--workers` asks for. */
export function workerCount(config: Readonly<HeraldConfig>): number {
  return config.workers === 'auto' ? availableParallelism() : Number(config.workers)
}

/** What a worker asks the primary for, and gets back: the metrics of every worker, summed. */
export const METRICS_REQUEST = 'herald:cluster-metrics'

/** A worker that died unexpectedly is started again after this long (then doubling, up to a minute). */
const RESTART_MS = 500

/**
 * `herald --workers N`: the primary process forks N Herald processes that serve the same port
 * (node:cluster hands each new connection to one of them in turn) and share streams through the
 * network broker. It restarts a worker that dies, sums their metrics for `GET /metrics` on any of
 * them, passes every worker the same streams secret (a signed name from one must verify on the
 * others), and stops them all on SIGINT/SIGTERM.
 */
export function runPrimary(config: Readonly<HeraldConfig>, version: string): void {
  const count = workerCount(config)
  const env: Record<string, string> = {}
  // One secret for all, so a stream signed by one worker verifies on another.
  if (!config.streamsSecret) env.HERALD_STREAMS_SECRET = randomBytes(32).toString('hex')
  const aggregator = new AggregatorRegistry()
  let stopping = false
  let announced = false
  let restartMs = RESTART_MS
  const fork = (): Worker => {
    const worker = cluster.fork(env)
    worker.on('message', (message: { type?: string; id?: number }) => {
      if (message?.type !== METRICS_REQUEST) return
      aggregator.clusterMetrics().then(
        (text) => worker.send({ type: METRICS_REQUEST, id: message.id, text, contentType: aggregator.contentType }),
        (err: Error) => worker.send({ type: METRICS_REQUEST, id: message.id, error: err.message }),
      )
    })
    return worker
  }
  cluster.on('listening', (worker, address) => {
    restartMs = RESTART_MS
    if (announced) return
    announced = true
    const host = address.address?.includes(':') ? `[${address.address}]` : (address.address ?? config.host)
    process.stdout.write(`Herald ${version} is running at http://${host}:${address.port} with ${count} workers (broker: ${config.broker})\n`)
    void worker
  })
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0)
      return
    }
    process.stderr.write(`herald: worker ${worker.process.pid} exited (${signal ?? code}); starting another in ${restartMs} ms\n`)
    setTimeout(fork, restartMs).unref()
    restartMs = Math.min(60_000, restartMs * 2)
  })
  const stop = () => {
    if (stopping) return
    stopping = true
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM')
    // A worker that does not finish its graceful close in time is not waited for.
    setTimeout(() => process.exit(0), 10_000).unref()
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
  for (let i = 0; i < count; i++) fork()
}
