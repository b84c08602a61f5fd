// Helpers for the worker tests: `herald worker` child processes, nodes on one Redis, cleanup.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { Redis } from 'ioredis'
import type { HeraldConfigInput } from '../../src/config/schema.js'
import { startHerald, type TestHerald } from '../support/herald.js'
import { until } from '../support/util.js'

export const redisUrl = process.env.HERALD_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
const root = new URL('../..', import.meta.url).pathname

/** A unique prefix per test run, for the broker's keys and BullMQ's. */
export function runPrefix(tag: string): string {
  return `t${tag}${process.pid.toString(36)}${Date.now().toString(36)}`
}

/** What nodes and workers of one test share: one Redis, the broker prefix, the queue. */
export function shared(prefix: string, extra: HeraldConfigInput = {}): HeraldConfigInput {
  return {
    broker: 'redis', redisUrl, brokerPrefix: `${prefix}h`, streamsSecret: prefix, jobsQueuePrefix: `${prefix}b`, jobsQueue: 'q',
    jobsLockDuration: 2, jobsStalledInterval: 1, jobsBackoff: 0.05, ...extra,
  }
}

export function node(prefix: string, extra: HeraldConfigInput = {}): Promise<TestHerald> {
  return startHerald({ jobs: 'bullmq', ...shared(prefix), ...extra })
}

/** Kebab-case flags of a config. */
function flags(config: HeraldConfigInput): string[] {
  return Object.entries(config).flatMap(([k, v]) => [`--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, String(v)])
}

/** A `herald worker` child process running test/jobs/fixtures/handlers.ts; its stdout lines are kept. */
export class WorkerProcess {
  readonly lines: string[] = []
  private constructor(readonly child: ChildProcess) {
    let buffer = ''
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk
      let nl
      while ((nl = buffer.indexOf('\n')) >= 0) {
        this.lines.push(buffer.slice(0, nl))
        buffer = buffer.slice(nl + 1)
      }
    })
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => { if (process.env.HERALD_TEST_LOG) process.stderr.write(chunk) })
  }

  static async start(prefix: string, extra: HeraldConfigInput = {}): Promise<WorkerProcess> {
    const child = spawn(process.execPath, [
      '--import', 'tsx', 'src/cli/main.ts', 'worker',
      ...flags({ ...shared(prefix), jobsHandlers: 'test/jobs/fixtures/handlers.ts', logLevel: (process.env.HERALD_TEST_LOG as any) ?? 'err', logFormat: 'json', ...extra }),
    ], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
    const w = new WorkerProcess(child)
    await until(() => w.lines.some((l) => l.startsWith('herald worker ')) || child.exitCode !== null, 'the worker to start', 30_000, 50)
    if (child.exitCode !== null) throw new Error(`herald worker exited with ${child.exitCode}`)
    return w
  }

  get pid(): number {
    return this.child.pid!
  }

  has(line: string): boolean {
    return this.lines.includes(line)
  }

  /** kill -9: no shutdown, its jobs are left locked (BullMQ's stall detection finds them). */
  async kill9(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    const exited = once(this.child, 'exit')
    this.child.kill('SIGKILL')
    await exited
  }

  /** SIGTERM, and SIGKILL when it has not exited within 10 s. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    const exited = once(this.child, 'exit')
    this.child.kill('SIGTERM')
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(timer)
  }
}

/** Removes every key the run made (broker and BullMQ prefixes). */
export async function cleanRedis(prefix: string): Promise<void> {
  const admin = new Redis(redisUrl)
  try {
    let cursor = '0'
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
      cursor = next
      if (keys.length > 0) await admin.del(...keys)
    } while (cursor !== '0')
  } finally {
    await admin.quit()
  }
}

/** Every kept event of a job's stream, in order, read from the broker. */
export async function eventsOf(h: TestHerald, stream: string): Promise<any[]> {
  const { messages } = await h.herald.hub.history(stream, { sinceMs: 1 })
  return messages.map((m) => JSON.parse(m.data))
}

export const FINAL = new Set(['succeeded', 'failed', 'cancelled'])
