import { execFile } from 'node:child_process'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

const TRANSPORTS = ['ws', 'ws-h2', 'sse-h2', 'long-poll-h2']

/**
 * Keeps `npm run bench` from rotting without adding a benchmark to CI: the harness's smallest
 * configuration (20 subscribers, Herald only) must run, lose nothing, and print its table, over
 * HTTP/1.1 WebSocket and the HTTP/2 driver clients (RFC 8441, an h2 stream, h2 long polls).
 */
test('bench harness: smallest fan-out against Herald prints a table with no lost, duplicated or reordered messages', { timeout: 120_000 }, async (t) => {
  t.plan(2 + 2 * TRANSPORTS.length)
  const out = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', 'bench/run.ts', 'fanout', '--smoke', '--servers', 'herald', '--transports', TRANSPORTS.join(',')], { cwd: ROOT, timeout: 110_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${err.message}\n${stdout}\n${stderr}`))
      else resolve(stdout)
    })
  })
  t.assert.match(out, /### Fan-out/)
  for (const transport of TRANSPORTS) {
    const rows = out.split('\n').filter((l) => l.startsWith(`| ${transport} | 20 | herald |`))
    t.assert.equal(rows.length, 1, out)
    // Columns: … | lost/dup/reorder | … — every phase delivered everything once and in order.
    t.assert.match(rows[0], /\| 0\/0\/0 \|/)
  }
  t.assert.doesNotMatch(out, /failed/)
})
