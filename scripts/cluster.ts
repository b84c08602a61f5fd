// `npm run cluster -- [--broker redis|nats] [--nodes 3] [--port 8080] [--no-balancer] [herald options…]`:
// a Herald cluster on this machine for trying it out. Starts Redis or NATS when none answers
// (scripts/services.ts), then N Herald nodes on ports port+1 … port+N sharing that broker and one
// --streams-secret, and a TCP round-robin balancer on `port` in front of them (each new
// connection goes to the next live node), so the demo page, curl and clients use one address.
// Options it does not know are passed to every node. Ctrl-C stops everything it started.
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import net from 'node:net'
import { parseArgs } from 'node:util'
import { ensureServices, MissingPrerequisite } from './services.js'

const { values, tokens } = parseArgs({
  strict: false,
  tokens: true,
  options: {
    broker: { type: 'string', default: 'redis' },
    nodes: { type: 'string', default: '3' },
    port: { type: 'string', default: '8080' },
    'no-balancer': { type: 'boolean', default: false },
  },
})
const OWN = new Set(['broker', 'nodes', 'port', 'no-balancer'])
// Everything else goes to the nodes as written.
const passThrough: string[] = []
for (const t of tokens ?? []) {
  if (t.kind === 'positional') passThrough.push(t.value)
  else if (t.kind === 'option' && !OWN.has(t.name)) {
    if (t.inlineValue) passThrough.push(`${t.rawName}=${t.value}`)
    else passThrough.push(t.rawName, ...(t.value !== undefined ? [t.value] : []))
  }
}
const broker = String(values.broker)
if (broker !== 'redis' && broker !== 'nats') throw new Error('--broker is redis or nats')
const nodes = Number(values.nodes)
const port = Number(values.port)
const say = (line: string) => process.stdout.write(`cluster: ${line}\n`)

let services
try {
  services = await ensureServices({ redis: broker === 'redis', nats: broker === 'nats' })
} catch (err) {
  if (err instanceof MissingPrerequisite) {
    process.stderr.write(`cluster: ${err.message}\n`)
    process.exit(1)
  }
  throw err
}
const brokerUrl = broker === 'redis'
  ? services.env.HERALD_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
  : services.env.HERALD_TEST_NATS_URL ?? 'nats://127.0.0.1:4222'
// One secret for every node: a signed stream name made on one node is valid on all of them.
const secret = process.env.HERALD_STREAMS_SECRET ?? randomBytes(24).toString('base64url')

const children: ChildProcess[] = []
const live = new Set<number>()
for (let i = 1; i <= nodes; i++) {
  const nodePort = port + i
  const args = [new URL('../bin/herald.js', import.meta.url).pathname, '--port', String(nodePort), '--broker', broker,
    broker === 'redis' ? '--redis-url' : '--nats-url', brokerUrl, '--streams-secret', secret, ...passThrough]
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] })
  children.push(child)
  live.add(nodePort)
  child.on('exit', (code, signal) => {
    live.delete(nodePort)
    say(`node ${i} (port ${nodePort}) exited (${signal ?? code}); the balancer skips it`)
  })
}

let next = 0
/** The next node port that is running, round robin; a refused connection tries the one after. */
function pick(skip: Set<number>): number | undefined {
  const ports = [...live].filter((p) => !skip.has(p)).sort((a, b) => a - b)
  if (ports.length === 0) return undefined
  return ports[next++ % ports.length]
}

function relay(client: net.Socket, tried = new Set<number>()): void {
  const target = pick(tried)
  if (target === undefined) {
    client.destroy()
    return
  }
  const upstream = net.connect({ host: '127.0.0.1', port: target })
  let connected = false
  upstream.once('connect', () => {
    connected = true
    client.pipe(upstream).pipe(client)
    client.resume()
    client.once('error', () => upstream.destroy())
    client.once('close', () => upstream.destroy())
    upstream.once('close', () => client.destroy())
  })
  upstream.once('error', () => {
    // Refused (a node that died since): the next one. Broken later: the client sees it close.
    if (connected) return client.destroy()
    tried.add(target)
    relay(client, tried)
  })
}

let balancer: net.Server | undefined
if (!values['no-balancer']) {
  balancer = net.createServer({ pauseOnConnect: true }, (socket) => relay(socket))
  balancer.listen(port, '127.0.0.1', () => say(`balancer on http://127.0.0.1:${port}/ → nodes on ports ${port + 1}–${port + nodes} (${broker} at ${brokerUrl})`))
} else say(`nodes on ports ${port + 1}–${port + nodes} (${broker} at ${brokerUrl})`)

let stopping = false
async function stop(): Promise<void> {
  if (stopping) return
  stopping = true
  balancer?.close()
  const exits = children.map((c) => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', r))))
  for (const c of children) c.kill('SIGTERM')
  await Promise.all(exits)
  await services!.stop()
  process.exit(0)
}
process.on('SIGINT', () => void stop())
process.on('SIGTERM', () => void stop())
