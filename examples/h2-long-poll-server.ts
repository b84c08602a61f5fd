// libwebsockets' minimal-http-server-h2-long-poll, on Herald: a timestamp every interval (60 s by
// default) to each client on GET /timestamps, on a listener with "h2-half-closed-long-poll", so a
// client that half-closed its stream stays connected past every idle timeout.
//
//   npx tsx examples/h2-long-poll-server.ts [--interval SECONDS] [any herald option]
//   npx tsx src/tools/herald-client.ts --long-poll http://127.0.0.1:8080/timestamps     (or herald-client)
import { createHerald, makeImmortal } from '../src/index.js'

const argv = process.argv.slice(2)
let intervalS = 60
const at = argv.indexOf('--interval')
if (at >= 0) {
  intervalS = Number(argv[at + 1])
  argv.splice(at, 2)
  if (!(intervalS > 0)) throw new Error('--interval: expected a positive number of seconds')
}

const herald = createHerald({ argv: ['--h2-half-closed-long-poll', ...argv], env: process.env })
herald.router.add('GET', '/timestamps', (req, res) => {
  makeImmortal(req)
  res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' })
  const out = res as { write(chunk: string): boolean } // one signature over the h1/h2 response union
  const send = () => out.write(`${new Date().toISOString()}\n`)
  send()
  const timer = setInterval(send, intervalS * 1000)
  res.on('close', () => clearInterval(timer))
})
await herald.listen()
process.stdout.write(`${herald.url}/timestamps  (a timestamp every ${intervalS} s)\n`)
const stop = () => void herald.close().then(() => process.exit(0))
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
