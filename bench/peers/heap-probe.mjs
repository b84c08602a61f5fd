// Preloaded into every Node server under test (node --expose-gc --import): on SIGUSR2 it runs a
// full GC and writes process.memoryUsage() to $BENCH_HEAP_FILE, so the harness can read heap per
// connection from outside without the server having a stats endpoint.
import { writeFileSync } from 'node:fs'
import { writeHeapSnapshot } from 'node:v8'

const file = process.env.BENCH_HEAP_FILE
if (file) {
  process.on('SIGUSR2', () => {
    globalThis.gc?.()
    globalThis.gc?.()
    // BENCH_HEAP_SNAPSHOT=<prefix>: also a heap snapshot per probe, to see what a connection holds.
    if (process.env.BENCH_HEAP_SNAPSHOT) writeHeapSnapshot(`${process.env.BENCH_HEAP_SNAPSHOT}-${Date.now()}.heapsnapshot`)
    writeFileSync(file, JSON.stringify({ ...process.memoryUsage(), at: Date.now() }))
  })
}
