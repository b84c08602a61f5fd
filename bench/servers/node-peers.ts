import { fileURLToPath } from 'node:url'
import type { ClientSpec } from '../driver/conn.js'
import { BENCH_TMP, freePort, httpGet, probeHeap, spawnNode, stopChild, waitForPort, type BenchTransport, type PublishTarget, type RunningServer, type ServerAdapter, type StartOptions } from './server.js'

/** POST /pub/<ch> with the raw payload, or POST /pub with a JSON array: the peers' publish API. */
function peerPublish(port: number): PublishTarget {
  return {
    port,
    maxBatch: 500,
    request(list) {
      if (list.length === 1) {
        const { stream, payload } = list[0]
        return `POST /pub/${encodeURIComponent(stream)} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`
      }
      const body = JSON.stringify(list.map((p) => ({ stream: p.stream, data: p.payload })))
      return `POST /pub HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
    },
  }
}

/** A Node peer with WebSocket only; `h2` = it also serves RFC 8441 on a second port (h2c). */
function nodePeer(name: string, script: string, client: (port: number) => ClientSpec, h2 = false): ServerAdapter {
  const transports: BenchTransport[] = h2 ? ['ws', 'ws-h2'] : ['ws']
  return {
    name,
    transports: () => transports,
    prepare: async () => undefined,
    async start(options: StartOptions = {}): Promise<RunningServer> {
      const port = await freePort()
      const h2Port = h2 ? await freePort() : 0
      const heapFile = `${BENCH_TMP}/${name}-${port}.heap.json`
      const child = spawnNode([fileURLToPath(new URL(`../peers/${script}`, import.meta.url)), String(port), String(h2Port), options.wsCompression ? 'deflate' : ''], heapFile)
      await waitForPort(port, child)
      if (h2Port) await waitForPort(h2Port, child)
      return {
        pids: () => (child.pid ? [child.pid] : []),
        client: (t: BenchTransport) => {
          if (!transports.includes(t)) throw new Error(`${name} has no ${t}`)
          const spec = t === 'ws-h2' ? { ...client(h2Port), h2: true } : client(port)
          return options.wsCompression ? { ...spec, wsDeflate: true } : spec
        },
        publish: peerPublish(port),
        subscribers: async () => (JSON.parse(await httpGet(port, '/stats')) as { subscribers: number }).subscribers,
        heapUsed: () => probeHeap(child, heapFile),
        stop: () => stopChild(child),
      }
    },
  }
}

/** Hand-tuned raw ws: frame once, one write per socket per turn. */
export const wsPeer = nodePeer('ws', 'ws-server.ts', (port) => ({ proto: 'ws', port, path: '/ws/{stream}' }), true)

/** Socket.IO 4.x over Engine.IO v4's WebSocket transport, spoken by a bare framing client. */
export const socketIoPeer = nodePeer('socket.io', 'socketio-server.ts', (port) => ({
  proto: 'ws', port, path: '/socket.io/?EIO=4&transport=websocket&ch={stream}', wsSendOnOpen: ['40'], engineIoPong: true,
}))
