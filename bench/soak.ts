// `npm run bench -- soak [--minutes 30] [--connections 3000] [--sample-seconds 60] [--report docs/benchmarks.md]`:
// a long run of publish, subscribe, reconnect and slow-reader churn over WebSocket, SSE and long
// polling against one Herald child process, sampling its RSS and its heap after a full GC; prints
// a table and whether memory stays flat (the last third against the middle third), and with
// --report writes them as the "Soak" section of docs/benchmarks.md. Loopback only. Not part of CI.
import { readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { parseArgs } from 'node:util'
import { payload } from './lib/publisher.js'
import { rssBytes } from './lib/proc.js'
import { SoakPopulation } from './lib/soak-clients.js'
import { renderSection, renderTable, verdict, withSoakSection, type SoakRun, type SoakSample } from './lib/soak-report.js'
import { herald } from './servers/herald.js'
import { BENCH_TMP, freePort, probeHeap, sleep, spawnNode, stopChild, waitForPort } from './servers/server.js'

const { values } = parseArgs({
  args: process.argv.slice(3),
  options: {
    minutes: { type: 'string' },
    connections: { type: 'string' },
    streams: { type: 'string' },
    'sample-seconds': { type: 'string' },
    report: { type: 'string' },
  },
})
const MINUTES = Number(values.minutes ?? 30)
const CONNECTIONS = Number(values.connections ?? 3000)
const STREAMS = Number(values.streams ?? Math.max(10, Math.round(CONNECTIONS / 20)))
const SAMPLE_SECONDS = Number(values['sample-seconds'] ?? 60)
const FIREHOSE = 'soak/firehose'
const ROOT = new URL('..', import.meta.url).pathname
const log = (s: string) => process.stdout.write(`${s}\n`)

for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130))

const why = await herald.prepare()
if (why) throw new Error(why)
const port = await freePort()
const heapFile = `${BENCH_TMP}/herald-soak-${port}.heap.json`
const maxSessions = String(CONNECTIONS * 2 + 1000)
const child = spawnNode([`${ROOT}dist/cli/main.js`, '--port', String(port), '--public-streams', '--log-level', 'err',
  '--max-body-bytes', '1048576', '--outbox-bytes', '262144', '--max-sessions', maxSessions], heapFile, {}, false)
await waitForPort(port, child)
const pid = child.pid!

async function scrape(): Promise<{ connections: number; tooSlow: number }> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
  let connections = 0
  let tooSlow = 0
  for (const line of text.split('\n')) {
    if (line.startsWith('herald_connections{')) connections += Number(line.split(' ').at(-1))
    if (line.startsWith('herald_disconnects_total{reason="too_slow"}')) tooSlow = Number(line.split(' ').at(-1))
  }
  return { connections, tooSlow }
}

// The publisher: every 250 ms a batch of 100 B messages to random streams, and 16 KiB ones to the firehose.
let published = 0
let publishing = true
const bigPad = 'x'.repeat(16 * 1024)
const publisher = (async () => {
  while (publishing) {
    const batch = Array.from({ length: Math.max(10, Math.round(STREAMS / 10)) }, () => ({ stream: `soak/${Math.floor(Math.random() * STREAMS)}`, data: payload(published) }))
    for (let i = 0; i < 4; i++) batch.push({ stream: FIREHOSE, data: JSON.stringify({ pad: bigPad }) })
    try {
      const res = await fetch(`http://127.0.0.1:${port}/_broadcast`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(batch) })
      await res.arrayBuffer()
      if (res.status === 201) published += batch.length
    } catch { /* the next batch tries again */ }
    await sleep(250)
  }
})()

const population = new SoakPopulation({
  port, connections: CONNECTIONS, streams: STREAMS, churnPerSecond: 0.01,
  stalled: 5, stallEverySeconds: 10, stallLifeSeconds: 30, firehose: FIREHOSE,
})
log(`soak: Herald pid ${pid} on port ${port}; opening ${CONNECTIONS} connections over ${STREAMS} streams`)
const t0 = Date.now()
await population.start()
log(`soak: ${CONNECTIONS} connections started in ${((Date.now() - t0) / 1000).toFixed(0)} s; ${MINUTES} min of churn, a sample every ${SAMPLE_SECONDS} s`)

const samples: SoakSample[] = []
let lastDelivered = 0
const began = Date.now()
const end = began + MINUTES * 60_000
for (let next = began + SAMPLE_SECONDS * 1000; next <= end + 1000; next += SAMPLE_SECONDS * 1000) {
  await sleep(Math.max(0, next - Date.now()))
  const heap = await probeHeap(child, heapFile)
  const { connections, tooSlow } = await scrape()
  const delivered = population.counters.delivered
  const s: SoakSample = {
    at: Math.round((Date.now() - began) / 1000), rssBytes: rssBytes(pid), heapBytes: heap ?? NaN, connections,
    deliveriesPerSec: (delivered - lastDelivered) / SAMPLE_SECONDS, reconnects: population.reconnects, tooSlow, failed: population.counters.failed,
  }
  lastDelivered = delivered
  samples.push(s)
  log(`[${String(s.at).padStart(5)} s] connections ${connections}, RSS ${(s.rssBytes / 1048576).toFixed(1)} MiB, heap ${(s.heapBytes / 1048576).toFixed(1)} MiB, ${Math.round(s.deliveriesPerSec)} deliveries/s, ${s.reconnects} reconnects, ${tooSlow} too_slow, ${s.failed} failed`)
  if (child.exitCode !== null) throw new Error(`Herald exited with ${child.exitCode} during the soak`)
}

publishing = false
await publisher
population.stop()
await stopChild(child)

const run: SoakRun = {
  minutes: MINUTES, connections: CONNECTIONS, streams: STREAMS, sampleSeconds: SAMPLE_SECONDS, published, samples,
  finishedAt: new Date().toISOString(),
  machine: `${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'CPU'}, Node ${process.version}`,
}
log(`\n${renderTable(samples)}\n\n${verdict(run).text}`)
if (values.report) {
  writeFileSync(values.report, withSoakSection(readFileSync(values.report, 'utf8'), renderSection(run)))
  writeFileSync(values.report.replace(/\.md$/, '') + '-soak.json', JSON.stringify(run))
  log(`Soak section written to ${values.report}`)
}
process.exit(0)
