import { describeOptions, HeraldConfigError, loadConfig } from '../config/load.js'
import { Herald } from '../herald.js'

const USAGE = `Usage: herald [--config FILE] [--option value ...]

Options (flag, environment variable, default):
${describeOptions().join('\n')}
`

async function main(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE)
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
  const herald = new Herald({ config, defaultMetrics: true })
  await herald.listen()
  process.stdout.write(`Herald is running at ${herald.url}  (demo page: ${herald.url}/, WebSocket: ${herald.url.replace('http', 'ws')}${config.path})\n`)
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

main(process.argv.slice(2)).catch((err) => {
  process.stderr.write(`herald: ${err?.stack ?? err}\n`)
  process.exit(1)
})
