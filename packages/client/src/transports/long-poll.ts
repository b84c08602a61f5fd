import type { EndKind, Opener } from './transport.js'

/**
 * AnyCable's session long polling at `--poll-path`: the first POST opens the session (its answer
 * carries `X-Anycable-Poll-ID` and the welcome); every later POST carries the id and any commands,
 * and is held until there is something to say. One poll at a time; a poll sent with commands
 * while one is held makes the server answer the held one at once, empty.
 */
export const longPoll: Opener = (link) => {
  let id: string | null = null
  let queue: string[] = []
  let inFlight = 0
  let queued = false
  let done = false
  const aborts = new Set<AbortController>()
  const close = () => {
    done = true
    for (const a of aborts) a.abort()
  }
  const end = (kind: EndKind, why: string) => done || (close(), link.end(kind, `lp: ${why}`))
  const poll = () => {
    const abort = new AbortController()
    // A poll is held at most --poll-interval (15 s by default); one held far longer went nowhere.
    const timer = setTimeout(() => abort.abort(), link.o.pollTimeout)
    const body = queue.join('\n')
    queue = []
    aborts.add(abort)
    inFlight++
    link.o
      .fetch(link.url(link.o.pollPath), { method: 'POST', body, headers: id ? { 'x-anycable-poll-id': id } : {}, signal: abort.signal })
      .then(async (res) => {
        const text = await res.text()
        if (done) return
        // Not polled in time (a network blip): the session is gone, so open a new one and resume.
        if (res.status === 401 && id) return end('lost', 'session expired')
        if (res.status !== 200 && res.status !== 401) return end(id ? 'lost' : 'refused', `HTTP ${res.status}`)
        id = res.headers.get('x-anycable-poll-id') ?? id
        for (const line of text.split('\n')) if (line.trim() && !done) link.reply(JSON.parse(line))
        if (--inFlight === 0 && !done) poll()
      })
      .catch((err) => end('lost', String(err?.message ?? err)))
      .finally(() => {
        clearTimeout(timer)
        aborts.delete(abort)
      })
  }
  // Unless an answer's own next poll took the queue already.
  const flush = () => {
    queued = false
    if (queue.length && !done) poll()
  }
  poll()
  return {
    send(text) {
      queue.push(text)
      // Commands of one turn go in one poll; before the session exists they wait for its answer.
      if (id && !queued) {
        queued = true
        queueMicrotask(flush)
      }
    },
    close,
  }
}
