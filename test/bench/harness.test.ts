import { spawn } from 'node:child_process'
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
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', 'fanout', '--smoke', '--servers', 'herald', '--transports', TRANSPORTS.join(',')], { cwd: ROOT, timeout: 110_000 })
    // The first test of `npm test` and its longest: say what it does before its first result
    // (the harness compiles src/ with tsc first, 20-60 s on 2 cores), and that it is alive.
    const started = Date.now()
    let said = started
    const say = (line: string) => { said = Date.now(); process.stderr.write(`bench smoke: ${line}\n`) }
    say(`npm run bench -- fanout --smoke (Herald, 20 subscribers, ${TRANSPORTS.join(', ')}): compiling src/, then two phases per transport`)
    const heartbeat = setInterval(() => {
      if (Date.now() - said >= 10_000) say(`still running (${Math.round((Date.now() - started) / 1000)} s)`)
    }, 2_000)
    child.once('exit', () => clearInterval(heartbeat))
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk
      // The run's progress lines, live, so a long first test does not look hung.
      for (const line of chunk.split('\n')) if (/^(\[|==)/.test(line.trim())) say(line.trim())
    })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      if (code === 0) resolve(stdout)
      else reject(new Error(`bench exited with ${code ?? signal}\n${stdout}\n${stderr}`))
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
