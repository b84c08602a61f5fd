import cluster from 'node:cluster'
import { readFileSync } from 'node:fs'
import { describeOptions, HeraldConfigError, loadConfig } from '../config/load.js'
import { Herald } from '../herald.js'
import { METRICS_REQUEST, runPrimary, workerCount } from './workers.js'

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version

const USAGE = `Usage: herald [--config FILE] [--option value ...]
       herald worker [--config FILE] [--option value ...]   runs job handlers from a BullMQ queue (docs/jobs.md)
       herald --version

Options (flag, environment variable, default):
${describeOptions().join('\n')}
`

async function main(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE)
    return
  }
  if (argv.includes('--version') || argv.includes('-v')) {
    process.stdout.write(`herald ${VERSION}\n`)
    return
  }
  let config
  try {
    config = loadConfig({ argv, env: process.env })
  } catch (err) {
    if (err instanceof HeraldConfigError) {
      process.stderr.write(`herald: ${err.message}\n`)
      process.exitCode = 2
      return
    }
    throw err
  }
  if (cluster.isPrimary && workerCount(config) > 1) {
    runPrimary(config, VERSION)
    return
  }
  const herald = new Herald({ config, defaultMetrics: true })
  if (cluster.isWorker) {
    const worker = cluster.worker!
    herald.metrics.shareWithCluster({
      send: (message) => worker.send(message as object),
      on: (event, listener) => worker.on(event, listener),
      off: (event, listener) => worker.off(event, listener),
    }, METRICS_REQUEST)
  }
  // The last line of defence: a fault that escaped every handler is logged, and every other
  // client is still served (each request and connection already ends itself on its own faults).
  process.on('uncaughtException', (err) => herald.diagnostics.requestFail('uncaught exception', err))
  process.on('unhandledRejection', (err) => herald.diagnostics.requestFail('unhandled rejection', err))
  try {
    await herald.listen()
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { port?: number; address?: string }
    if (e.code === 'EADDRINUSE' || e.code === 'EACCES') {
      const why = e.code === 'EADDRINUSE' ? 'is in use' : 'needs more privileges'
      process.stderr.write(`herald: ${e.address ?? config.host}:${e.port ?? config.port} ${why}; start with --port <another> (or HERALD_PORT=…)\n`)
      process.exit(1)
    }
    throw err
  }
  if (cluster.isWorker) return // the primary says where it listens, once
  const ws = `${herald.url.replace('http', 'ws')}${config.path}`
  process.stdout.write(`Herald ${VERSION} is running at ${herald.url}  (demo page: ${herald.url}/, WebSocket: ${ws}, broker: ${herald.hub.broker.kind})\n`)
  for (const l of herald.listeners.slice(1)) process.stdout.write(`  also listening at ${l.url} (${l.spec.name})\n`)
  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    herald.log.notice({ signal }, 'signal received')
    herald.close().then(
      () => process.exit(0),
      (err) => {
        herald.log.err({ err }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))
}

const args = process.argv.slice(2)
const run = args[0] === 'worker' ? import('./worker.js').then((m) => m.workerMain(args.slice(1))) : main(args)
run.catch((err) => {
  process.stderr.write(`herald: ${err?.stack ?? err}\n`)
  process.exit(1)
})
