import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { HeraldConfigError, loadConfig } from '../config/load.js'
import type { HeraldConfig } from '../config/schema.js'
import { startWorker } from '../jobs/bullmq/worker.js'
import { demoJobType } from '../jobs/demo-job.js'
import type { JobTypeDefinition } from '../jobs/job.js'

/**
 * The job types of `--jobs-handlers FILE`: its default export, or its named exports, that have a
 * handler, by name. Without the option, the built-in `demo` type only.
 */
export async function loadHandlers(config: Readonly<HeraldConfig>): Promise<Record<string, JobTypeDefinition>> {
  if (!config.jobsHandlers) return { demo: demoJobType(config.demoJobMaxDuration * 1000) }
  const mod = (await import(pathToFileURL(resolve(config.jobsHandlers)).href)) as Record<string, unknown>
  const source = (mod.default && typeof mod.default === 'object' ? mod.default : mod) as Record<string, unknown>
  const types: Record<string, JobTypeDefinition> = {}
  for (const [name, value] of Object.entries(source)) {
    if (value && typeof (value as JobTypeDefinition).handler === 'function') types[name] = value as JobTypeDefinition
  }
  if (Object.keys(types).length === 0) throw new HeraldConfigError([`jobsHandlers: ${config.jobsHandlers} exports no job types ({ handler } objects by type name)`])
  return types
}

/** `herald worker`: runs job handlers for the nodes, taking jobs from the BullMQ queue. */
export async function workerMain(argv: string[]): Promise<void> {
  let config
  let types
  try {
    config = loadConfig({ argv, env: process.env })
    if (config.broker === 'memory') throw new HeraldConfigError(['broker: a worker publishes through the nodes\' broker: give --broker redis (or nats), as the nodes have'])
    types = await loadHandlers(config)
  } catch (err) {
    if (err instanceof HeraldConfigError) {
      process.stderr.write(`herald worker: ${err.message}\n`)
      process.exitCode = 2
      return
    }
    throw err
  }
  const worker = await startWorker({ config, types })
  process.on('uncaughtException', (err) => worker.diagnostics.requestFail('uncaught exception', err))
  process.on('unhandledRejection', (err) => worker.diagnostics.requestFail('unhandled rejection', err))
  process.stdout.write(`herald worker ${worker.id} on queue ${config.jobsQueue}: ${Object.keys(types).join(', ')}\n`)
  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    worker.log.notice({ signal }, 'signal received: finishing running jobs')
    worker.close().then(() => process.exit(0), (err) => {
      worker.log.err({ err }, 'shutdown failed')
      process.exit(1)
    })
  }
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))
}
