import { readLines, type Reply } from '../codec.js'
import type { Link, Opener } from './transport.js'

/**
 * A long POST whose body is the JSON Lines of every subscription (with its resume position) and
 * whose response streams replies: SSE at `POST /events`, NDJSON at `POST /stream`. One request
 * carries every subscription; adding one means reopening with the whole set.
 */
function streaming(name: string, path: string, accept: string, parse: (line: string) => Reply | undefined): Opener {
  return (link) => {
    const abort = new AbortController()
    let done = false
    const end: Link['end'] = (kind, why) => done || ((done = true), link.end(kind, `${name}: ${why}`))
    link.o
      .fetch(link.url(path), { method: 'POST', body: link.body, headers: { accept }, signal: abort.signal })
      .then(async (res) => {
        if (!res.ok) return refused(link, res, end)
        await readLines(res.body!, (line) => {
          const m = done ? undefined : parse(line)
          if (m) link.reply(m)
        })
        end('lost', 'stream ended')
      })
      .catch((err) => end('lost', String(err?.message ?? err)))
    return {
      close() {
        done = true
        abort.abort()
      },
    }
  }
}

/**
 * A 400 naming a rejected subscription reports that one and asks to reopen without it; a 401 (no
 * valid token) ends the connection as a WebSocket's `unauthorized` would; other statuses refuse the wire.
 */
async function refused(link: Link, res: Response, end: Link['end']): Promise<void> {
  const text = await res.text()
  let rejected = false
  if (res.status === 401) link.reply({ type: 'disconnect', reason: 'unauthorized', reconnect: false })
  if (res.status === 400 && text.includes('SUBSCRIPTION_REJECTED')) {
    const why = JSON.parse(text).error.message as string
    for (const line of link.body.split('\n')) {
      const identifier = JSON.parse(line).identifier
      if (why.includes(identifier)) {
        link.reply({ type: 'reject_subscription', identifier })
        rejected = true
      }
    }
  }
  end(rejected ? 'retry' : 'refused', `HTTP ${res.status}`)
}

/** `data:` lines hold whole replies (POST /events); `event:`, `id:` and comments add nothing to them. */
export const sse = streaming('sse', '/events', 'text/event-stream', (line) =>
  line.startsWith('data:') ? JSON.parse(line.slice(5)) : undefined,
)

/** One whole reply per line (POST /stream), keepalive pings included. */
export const ndjson = streaming('ndjson', '/stream', 'application/x-ndjson', (line) => JSON.parse(line))
