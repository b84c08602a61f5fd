import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { after, test } from 'node:test'
import { openLongPoll } from '../../src/tools/h2-long-poll.js'
import { makeImmortal } from '../../src/http/immortal.js'
import { startHerald } from '../support/herald.js'
import { makeSelfSignedCert } from '../support/tls.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const children: ChildProcess[] = []
after(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
})

function run(args: string[]): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  child.stdout!.setEncoding('utf8')
  return child
}

/** Resolves with stdout's lines once `test` accepts them. */
function waitForLines(child: ChildProcess, test: (lines: string[]) => boolean, timeoutMs = 15_000): Promise<string[]> {
  return new Promise((resolve, reject) => {
    let text = ''
    const timer = setTimeout(() => reject(new Error(`timed out; stdout so far: ${JSON.stringify(text)}`)), timeoutMs)
    child.stdout!.on('data', (d: string) => {
      text += d
      const lines = text.split('\n').filter(Boolean)
      if (test(lines)) {
        clearTimeout(timer)
        resolve(lines)
      }
    })
    child.once('exit', (code) => reject(new Error(`exited ${code}; stdout: ${JSON.stringify(text)}`)))
  })
}

test('the seed\'s example: timestamps every interval to `herald-client --long-poll`, well past every idle timeout', async () => {
  // Idle timeouts of 0.25 s, a timestamp every 0.8 s: each gap is over 3× the idle timeout.
  const server = run(['examples/h2-long-poll-server.ts', '--interval', '0.8', '--port', '0', '--h2-idle-timeout', '0.25', '--h2-ping-interval', '0.2', '--h2-ping-timeout', '1', '--log-level', 'err'])
  const [banner] = await waitForLines(server, (l) => l.length > 0)
  const url = banner.split(' ')[0]
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/timestamps$/)
  const client = run(['src/tools/herald-client.ts', '--long-poll', url])
  const lines = await waitForLines(client, (l) => l.length >= 4)
  for (const line of lines) assert.ok(!Number.isNaN(Date.parse(line)), `a timestamp: ${line}`)
  const times = lines.map((l) => Date.parse(l))
  assert.ok(times[3] - times[0] >= 2000, 'the stream lived for many idle timeouts')
  assert.equal(client.exitCode, null, 'still connected')
  client.kill('SIGTERM')
  const [code] = await once(client, 'exit')
  assert.equal(code, 0)
  server.kill('SIGTERM')
  await once(server, 'exit')
})

test('openLongPoll over TLS: GET, then half-close (rx only), then every chunk', async () => {
  const cert = makeSelfSignedCert()
  const h = await startHerald({ tlsCert: cert.cert, tlsKey: cert.key, h2HalfClosedLongPoll: true, h2IdleTimeout: 0.25 })
  let serverSawEnd = false
  h.herald.router.add('GET', '/test/chunks', (req, res) => {
    makeImmortal(req)
    ;(req as any).stream.once('end', () => (serverSawEnd = true))
    res.writeHead(200, { 'content-type': 'text/plain' })
    let i = 0
    const timer = setInterval(() => {
      ;(res as any).write(`chunk ${++i}\n`)
      if (i === 3) {
        clearInterval(timer)
        res.end()
      }
    }, 800)
  })
  try {
    assert.match(h.url, /^https:/)
    const poll = await openLongPoll(`${h.url}/test/chunks`, { insecure: true })
    assert.equal(poll.headers[':status'], 200)
    assert.equal(poll.stream.writableEnded, true)
    let body = ''
    for await (const chunk of poll.chunks()) body += chunk
    assert.equal(body, 'chunk 1\nchunk 2\nchunk 3\n')
    assert.equal(serverSawEnd, true, 'the server saw the END_STREAM')
    poll.close()
  } finally {
    await h.close()
    cert.remove()
  }
})
