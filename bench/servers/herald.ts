import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { ClientSpec } from '../driver/conn.js'
import { ALL_TRANSPORTS, BENCH_TMP, freePort, httpGet, probeHeap, spawnNode, splitTransport, stopChild, waitForPort, type BenchTransport, type H1Transport, type PublishTarget, type RunningServer, type ServerAdapter, type StartOptions } from './server.js'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const IDENTIFIER = (stream: string) => JSON.stringify({ channel: '$pubsub', stream_name: stream })

/**
 * Herald's client per transport, as its docs describe the wire. A transport is offered only
 * when its module exists in src/transport, so the table shows what has landed.
 */
const CLIENTS: Record<H1Transport, { module: string; spec: (port: number) => ClientSpec }> = {
  ws: {
    module: 'src/transport/websocket.ts',
    spec: (port) => ({
      proto: 'ws', port, path: '/cable', wsProtocol: 'actioncable-v1-json',
      wsSendOnOpen: [JSON.stringify({ command: 'subscribe', identifier: '__ID__' }).replace('"__ID__"', JSON.stringify(IDENTIFIER('{stream}')))],
    }),
  },
  sse: {
    module: 'src/transport/sse.ts',
    // AnyCable's SSE query form; Herald answers with `data:` events.
    spec: (port) => ({ proto: 'http-stream', port, path: '/events?stream={stream}', headers: { Accept: 'text/event-stream' } }),
  },
  ndjson: {
    module: 'src/transport/ndjson.ts',
    spec: (port) => ({ proto: 'http-stream', port, path: '/stream?stream={stream}', headers: { Accept: 'application/x-ndjson' } }),
  },
  'long-poll': {
    module: 'src/transport/long-poll.ts',
    spec: (port) => ({
      proto: 'long-poll', port, path: '/lp', method: 'POST', cursor: 'herald',
      body: `${JSON.stringify({ command: 'subscribe', identifier: '__ID__' }).replace('"__ID__"', JSON.stringify(IDENTIFIER('{stream}')))}\n`,
    }),
  },
}

/** Compiles src/ to dist/ (tsc), so the run measures the current sources. */
export function build(): string | undefined {
  try {
    execFileSync(process.execPath, [`${ROOT}node_modules/typescript/bin/tsc`, '-p', `${ROOT}tsconfig.json`], { stdio: 'inherit' })
    return undefined
  } catch (err) {
    return `npm run build failed: ${(err as Error).message}`
  }
}

export function metric(text: string, name: string): number {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text)
  return m ? Number(m[1]) : 0
}

/** HTTP/2: the same clients over h2c on the same port (WebSocket by RFC 8441). */
const H2_MODULES: Record<H1Transport, string> = { ws: 'src/transport/websocket-h2.ts', sse: 'src/server/listeners.ts', ndjson: 'src/server/listeners.ts', 'long-poll': 'src/server/listeners.ts' }

function available(t: BenchTransport): boolean {
  const { base, h2 } = splitTransport(t)
  return existsSync(`${ROOT}${CLIENTS[base].module}`) && (!h2 || existsSync(`${ROOT}${H2_MODULES[base]}`))
}

export function clientSpec(t: BenchTransport, port: number): ClientSpec {
  const { base, h2 } = splitTransport(t)
  const spec = CLIENTS[base].spec(port)
  return h2 ? { ...spec, h2 } : spec
}

/** POST /_broadcast on `port`: one publication, or a JSON array of up to 500. */
export function publishTarget(port: number): PublishTarget {
  return {
    port,
    maxBatch: 500,
    request(list) {
      const body = list.length === 1
        ? `{"stream":${JSON.stringify(list[0].stream)},"data":${list[0].payload}}`
        : `[${list.map((p) => `{"stream":${JSON.stringify(p.stream)},"data":${p.payload}}`).join(',')}]`
      return `POST /_broadcast HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
    },
  }
}

export const herald: ServerAdapter = {
  name: 'herald',
  transports: () => ALL_TRANSPORTS.filter(available),
  prepare: async () => build(),
  async start(options: StartOptions = {}): Promise<RunningServer> {
    const port = await freePort()
    const heapFile = `${BENCH_TMP}/herald-${port}.heap.json`
    // --poll-flush-interval 0: answer a held long poll as soon as a message is queued, as Nchan
    // does (Herald's default, like AnyCable's, batches for 0.5 s and would add that to latency).
    // --max-body-bytes: the publisher's batches of up to 500 publications (~75 KB) exceed the 64 KiB default.
    const args = ['--port', String(port), '--public-streams', '--log-level', 'err', '--max-body-bytes', '1048576']
    if (this.transports().includes('long-poll')) args.push('--poll-flush-interval', '0')
    if (options.wsCompression) args.push('--ws-compression')
    // The build, as `npm start` runs it: under tsx every closure would also pay esbuild's keep-names helper.
    const child = spawnNode([`${ROOT}dist/cli/main.js`, ...args], heapFile, {}, false, options.cpuProfileDir ?? process.env.BENCH_CPU_PROF)
    await waitForPort(port, child)
    return {
      pids: () => (child.pid ? [child.pid] : []),
      client: (t) => ({ ...clientSpec(t, port), ...(options.wsCompression ? { wsDeflate: true } : {}) }),
      publish: publishTarget(port),
      subscribers: async () => metric(await httpGet(port, '/metrics'), 'herald_subscriptions'),
      heapUsed: () => probeHeap(child, heapFile),
      stop: () => stopChild(child),
    }
  },
}
