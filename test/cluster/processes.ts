// Herald as separate processes (the CLI from the sources, through tsx), for what an in-process
// node cannot show: a node killed with SIGKILL, `--workers`.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import net from 'node:net'
import { fileURLToPath } from 'node:url'
import { until } from '../support/util.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

export interface NodeProcess {
  readonly url: string
  readonly child: ChildProcess
  /** What the process wrote to stderr so far (for failure messages). */
  output(): string
  kill(signal?: NodeJS.Signals): Promise<void>
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

/** `herald <args> --port <free>`, answering /health before this resolves. */
export async function startNode(args: string[]): Promise<NodeProcess> {
  const port = await freePort()
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', '--host', '127.0.0.1', '--port', String(port), '--log-level', 'warn', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let err = ''
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d))
  const url = `http://127.0.0.1:${port}`
  await until(async () => {
    if (child.exitCode !== null) throw new Error(`herald exited ${child.exitCode}: ${err}`)
    return (await fetch(`${url}/health`).catch(() => undefined))?.ok
  }, `herald on ${port}`, 30_000, 100)
  return {
    url,
    child,
    output: () => err,
    async kill(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = once(child, 'exit')
      child.kill(signal)
      await exited
    },
  }
}
