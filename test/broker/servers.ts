// Redis and NATS servers a test starts itself (the broker restart tests), on a free loopback
// port with a data directory of their own, removed at close.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { until } from '../support/util.js'

export interface OwnServer {
  readonly url: string
  stop(): Promise<void>
  start(options: { wipe: boolean }): Promise<void>
  close(): Promise<void>
}

/** A loopback port nothing listens on (until someone binds it). */
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

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port })
    socket.setTimeout(500, () => { socket.destroy(); resolve(false) })
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => resolve(false))
  })
}

/** Debian installs nats-server in /usr/sbin, which a non-root PATH lacks. */
function binary(name: string): string {
  for (const dir of ['/usr/bin', '/usr/sbin', '/usr/local/bin', '/usr/local/sbin']) if (existsSync(join(dir, name))) return join(dir, name)
  return name
}

async function ownServer(scheme: string, command: (port: number, dir: string) => [string, string[]]): Promise<OwnServer> {
  const port = await freePort()
  let dir = mkdtempSync(join(tmpdir(), `herald-${scheme}-`))
  let child: ChildProcess | undefined
  const start = async ({ wipe }: { wipe: boolean }) => {
    if (wipe) {
      rmSync(dir, { recursive: true, force: true })
      dir = mkdtempSync(join(tmpdir(), `herald-${scheme}-`))
    }
    const [bin, args] = command(port, dir)
    child = spawn(bin, args, { stdio: 'ignore' })
    child.on('error', () => {})
    await until(() => answers(port), `${scheme} server on ${port}`, 10_000, 50)
  }
  const stop = async () => {
    const c = child
    child = undefined
    if (!c || c.exitCode !== null) return
    const exited = new Promise((resolve) => c.once('exit', resolve))
    c.kill('SIGTERM')
    const timer = setTimeout(() => c.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(timer)
  }
  await start({ wipe: false })
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    start,
    stop,
    close: async () => {
      await stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** A Redis that keeps its data across a restart (an append-only file, fsync'd on every write). */
export function ownRedis(): Promise<OwnServer> {
  return ownServer('redis', (port, dir) => [binary('redis-server'), [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '',
    '--appendonly', 'yes', '--appendfsync', 'always', '--daemonize', 'no', '--loglevel', 'warning',
  ]])
}

/** A NATS server with JetStream on file storage in its own directory. */
export function ownNats(): Promise<OwnServer> {
  return ownServer('nats', (port, dir) => [binary('nats-server'), ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir]])
}
