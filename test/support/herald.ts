import { once } from 'node:events'
import { WebSocket } from 'ws'
import { Herald } from '../../src/herald.js'
import { loadConfig } from '../../src/config/load.js'
import type { HeraldConfigInput } from '../../src/config/schema.js'
import { createLogger } from '../../src/observability/logger.js'

export interface TestHerald {
  herald: Herald
  /** http://127.0.0.1:PORT */
  url: string
  /** ws://127.0.0.1:PORT/cable */
  wsUrl: string
  close(): Promise<void>
}

/**
 * A real Herald on 127.0.0.1, port 0. Logs go to stderr only at HERALD_TEST_LOG's level
 * (default: err) so failures stay readable.
 */
export async function startHerald(overrides: HeraldConfigInput = {}): Promise<TestHerald> {
  const config = loadConfig({ overrides: { host: '127.0.0.1', port: 0, ...overrides } })
  const logger = createLogger((process.env.HERALD_TEST_LOG as any) ?? 'err')
  const herald = new Herald({ config, logger })
  await herald.listen()
  const url = herald.url
  return {
    herald,
    url,
    wsUrl: `${url.replace(/^http/, 'ws')}${config.path}`,
    close: () => herald.close(200),
  }
}

/** A raw protocol client: collects every JSON message, lets a test wait for one that matches. */
export class WireClient {
  readonly messages: any[] = []
  private waiters: { test: (m: any) => boolean; resolve: (m: any) => void }[] = []
  closeCode: number | undefined
  closeReason: string | undefined

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString())
      this.messages.push(msg)
      this.waiters = this.waiters.filter((w) => (w.test(msg) ? (w.resolve(msg), false) : true))
    })
    ws.on('close', (code, reason) => {
      this.closeCode = code
      this.closeReason = reason.toString()
    })
  }

  static async connect(url: string, protocol: string | string[] = 'actioncable-v1-ext-json', options: ConstructorParameters<typeof WebSocket>[2] = {}): Promise<WireClient> {
    const ws = new WebSocket(url, protocol, options)
    const client = new WireClient(ws)
    await once(ws, 'open')
    return client
  }

  send(msg: unknown): void {
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg))
  }

  /** Resolves with the first message (already received or future) matching `test`. */
  waitFor(test: (m: any) => boolean, timeoutMs = 5000): Promise<any> {
    const found = this.messages.find(test)
    if (found) return Promise.resolve(found)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting; got ${JSON.stringify(this.messages.slice(-5))}`)), timeoutMs)
      this.waiters.push({ test, resolve: (m) => { clearTimeout(timer); resolve(m) } })
    })
  }

  waitForType(type: string, timeoutMs?: number): Promise<any> {
    return this.waitFor((m) => m.type === type, timeoutMs)
  }

  /** Data messages (those with `message` and no `type`). */
  data(identifier?: string): any[] {
    return this.messages.filter((m) => m.type === undefined && m.message !== undefined && (!identifier || m.identifier === identifier))
  }

  async closed(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    if (this.ws.readyState !== WebSocket.CLOSED) {
      await Promise.race([once(this.ws, 'close'), new Promise((_, rej) => setTimeout(() => rej(new Error('not closed in time')), timeoutMs))])
    }
    return { code: this.closeCode!, reason: this.closeReason! }
  }

  close(): void {
    this.ws.close()
  }
}
