// What the test suite (and the cluster benchmark) needs from the machine: Debian's chromium,
// curl and openssl, and a Redis and a NATS server with JetStream. Missing packages are
// installed (root, Debian's packages); servers are used where they already answer, else started
// here, on their usual ports when those are free or on free ports otherwise. Servers started
// here are stopped again by `stop()`, so the machine is left as it was found.
import { spawn, spawnSync, type ChildProcess, type SpawnSyncOptions } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

export interface Services {
  /** Variables the tests read: HERALD_TEST_REDIS_URL, HERALD_TEST_NATS_URL, HERALD_CHROMIUM. */
  env: Record<string, string>
  /** Stops the servers this process started (the ones already running are left alone). */
  stop(): Promise<void>
}

/** One line, then exit: what the machine lacks and how to get it. */
export class MissingPrerequisite extends Error {}

const say = (line: string) => process.stderr.write(`test env: ${line}\n`)

/** The command's path; Debian puts servers in /usr/sbin, which a non-root PATH lacks. */
function which(command: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' })
  if (r.status === 0) return r.stdout.trim()
  return ['/usr/sbin', '/usr/local/sbin'].map((dir) => join(dir, command)).find((path) => existsSync(path))
}

let aptUpdated = false

/** apt-get install, as Debian's root; refuses with one clear sentence anywhere else. */
function aptInstall(packages: string[], why: string): void {
  const hint = `install Debian's ${packages.join(' ')} (apt-get install ${packages.join(' ')})`
  if (process.getuid?.() !== 0 || !which('apt-get')) {
    throw new MissingPrerequisite(`${why}: ${hint}; npm test installs them itself only as root on Debian`)
  }
  say(`installing ${packages.join(', ')} from Debian's packages (${why})`)
  const opts: SpawnSyncOptions = { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }
  if (!aptUpdated) {
    spawnSync('apt-get', ['update', '-qq'], opts)
    aptUpdated = true
  }
  const r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], opts)
  if (r.status !== 0) throw new MissingPrerequisite(`${why}: apt-get install failed (no package access?); ${hint}`)
}

/** Sends `probe` (if any) and resolves with what the server says first, or undefined when nothing answers. */
function greeting(port: number, probe?: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port })
    let text = ''
    const done = (value: string | undefined) => {
      socket.destroy()
      resolve(value)
    }
    socket.setTimeout(1000, () => done(text || undefined))
    socket.on('error', () => done(undefined))
    socket.on('connect', () => probe && socket.write(probe))
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1')
      if (text.includes('\n')) done(text)
    })
  })
}

const isRedis = async (port: number) => (await greeting(port, 'PING\r\n'))?.startsWith('+PONG') === true
/** A NATS server announces itself with INFO; JetStream's presence is in that JSON. */
const isNatsWithJetStream = async (port: number) => {
  const info = await greeting(port)
  return info?.startsWith('INFO ') === true && /"jetstream"\s*:\s*true/.test(info)
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer()
    server.once('error', () => resolve(false))
    server.listen({ host: '127.0.0.1', port }, () => server.close(() => resolve(true)))
  })
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

async function waitUntil(check: () => Promise<boolean>, what: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return
    if (child.exitCode !== null) break
    await sleep(100)
  }
  child.kill('SIGKILL')
  throw new MissingPrerequisite(`${what} did not come up`)
}

interface Started {
  name: string
  child: ChildProcess
  dir?: string
}

/**
 * A server for the suite on `usual` if one answers there or the port is free, else on a free
 * port. `start(port, dir)` spawns it in the foreground (so it dies with `stop()`).
 */
async function ensureServer(
  name: string,
  usual: number,
  isIt: (port: number) => Promise<boolean>,
  start: (port: number, dir: string) => ChildProcess,
  started: Started[],
): Promise<number> {
  if (await isIt(usual)) {
    say(`${name} answers on 127.0.0.1:${usual}; using it`)
    return usual
  }
  const port = (await portFree(usual)) ? usual : await freePort()
  const dir = mkdtempSync(join(tmpdir(), `herald-test-${name.toLowerCase()}-`))
  const child = start(port, dir)
  child.on('error', () => {}) // a failed spawn shows as a server that never comes up
  started.push({ name, child, dir })
  await waitUntil(() => isIt(port), `${name} on port ${port}`, child)
  say(`started ${name} on 127.0.0.1:${port} for this run`)
  return port
}

export interface Needs {
  chromium?: boolean
  redis?: boolean
  nats?: boolean
  /** curl and openssl (the HTTP/2 and TLS tests). */
  tools?: boolean
}

/** Makes the machine ready for the suite; throws MissingPrerequisite with one clear line when it cannot. */
export async function ensureServices(needs: Needs = { chromium: true, redis: true, nats: true, tools: true }): Promise<Services> {
  const env: Record<string, string> = {}
  const missing: string[] = []
  const chromium = process.env.HERALD_CHROMIUM ?? '/usr/bin/chromium'
  if (needs.chromium && !existsSync(chromium)) {
    if (process.env.HERALD_CHROMIUM) throw new MissingPrerequisite(`HERALD_CHROMIUM=${chromium} does not exist`)
    missing.push('chromium')
  }
  if (needs.tools) for (const tool of ['curl', 'openssl']) if (!which(tool)) missing.push(tool)
  if (needs.redis && !which('redis-server')) missing.push('redis-server')
  if (needs.nats && !which('nats-server')) missing.push('nats-server')
  if (missing.length > 0) aptInstall(missing, 'the suite drives real browsers, curl, Redis and NATS')
  if (needs.chromium) env.HERALD_CHROMIUM = chromium

  const started: Started[] = []
  const stop = async () => {
    for (const s of started.reverse()) {
      if (s.child.exitCode === null) {
        s.child.kill('SIGTERM')
        await Promise.race([new Promise((r) => s.child.once('exit', r)), sleep(3000)])
        if (s.child.exitCode === null) s.child.kill('SIGKILL')
      }
      if (s.dir) rmSync(s.dir, { recursive: true, force: true })
      say(`stopped the ${s.name} this run started`)
    }
    started.length = 0
  }
  try {
    if (needs.redis) {
      const port = await ensureServer('Redis', 6379, isRedis, (p, dir) => spawn(
        which('redis-server')!,
        ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning'],
        { stdio: 'ignore' },
      ), started)
      env.HERALD_TEST_REDIS_URL = `redis://127.0.0.1:${port}`
    }
    if (needs.nats) {
      const port = await ensureServer('NATS', 4222, isNatsWithJetStream, (p, dir) => spawn(
        which('nats-server')!, ['-a', '127.0.0.1', '-p', String(p), '-js', '-sd', dir],
        { stdio: 'ignore' },
      ), started)
      env.HERALD_TEST_NATS_URL = `nats://127.0.0.1:${port}`
    }
  } catch (err) {
    await stop()
    throw err
  }
  return { env, stop }
}
