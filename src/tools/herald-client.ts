import { openLongPoll } from './h2-long-poll.js'

const USAGE = `Usage: herald-client --long-poll URL [--insecure] [--header 'name: value' ...]

  --long-poll URL   GET URL over HTTP/2 (h2 over TLS for https:, h2c for http:), half-close the
                    stream (lws_h2_client_stream_long_poll_rxonly) and print each chunk received
                    until the server ends it; -l is the same
  --insecure, -k    accept any TLS certificate
  --header, -H      an extra request header
`

async function main(argv: string[]): Promise<number> {
  let url: string | undefined
  let insecure = false
  const headers: Record<string, string> = {}
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--long-poll' || a === '-l') url = argv[++i]
    else if (a === '--insecure' || a === '-k') insecure = true
    else if (a === '--header' || a === '-H') {
      const [name, ...rest] = (argv[++i] ?? '').split(':')
      headers[name.trim().toLowerCase()] = rest.join(':').trim()
    } else if (a === '--help' || a === '-h') {
      process.stdout.write(USAGE)
      return 0
    } else {
      process.stderr.write(`herald-client: unexpected argument "${a}"\n${USAGE}`)
      return 2
    }
  }
  if (!url) {
    process.stderr.write(USAGE)
    return 2
  }
  const poll = await openLongPoll(url, { insecure, headers })
  process.stderr.write(`herald-client: ${poll.headers[':status']} ${poll.headers['content-type'] ?? ''}, stream half-closed (long poll, rx only)\n`)
  const stop = () => poll.close()
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  for await (const chunk of poll.chunks()) process.stdout.write(chunk)
  poll.close()
  return 0
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code },
  (err) => {
    process.stderr.write(`herald-client: ${err?.message ?? err}\n`)
    process.exitCode = 1
  },
)
