// Preloaded into every Node server under test (node --expose-gc --import): on SIGUSR2 it runs a
// full GC and writes process.memoryUsage() to $BENCH_HEAP_FILE, so the harness can read heap per
// connection from outside without the server having a stats endpoint.
import { writeFileSync } from 'node:fs'

const file = process.env.BENCH_HEAP_FILE
if (file) {
  process.on('SIGUSR2', () => {
    globalThis.gc?.()
    globalThis.gc?.()
    writeFileSync(file, JSON.stringify({ ...process.memoryUsage(), at: Date.now() }))
  })
}
