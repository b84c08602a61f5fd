import { PROTOCOL } from '../codec.js'
import type { Opener } from './transport.js'

/** The extended Action Cable protocol over one WebSocket at `--path`. */
export const websocket: Opener = (link) => {
  const W = link.o.WebSocket ?? (globalThis as any).WebSocket
  const ws = new W(link.url(link.o.path).replace(/^http/, 'ws'), PROTOCOL)
  let heard = false
  let done = false
  ws.onmessage = (e: { data: string }) => {
    heard = true
    link.reply(JSON.parse(e.data))
  }
  // Browsers say nothing about why an upgrade failed, and a socket a proxy closes before the
  // welcome is no better: both count as refused, so the next transport is tried.
  ws.onclose = () => done || ((done = true), link.end(heard ? 'lost' : 'refused', heard ? 'ws: closed' : 'ws: could not open'))
  // ws (Node) emits 'error' when a connecting socket is closed; unhandled, it would throw.
  ws.onerror = () => {}
  return {
    send: (text) => ws.readyState === 1 && ws.send(text),
    close() {
      done = true
      ws.close()
    },
  }
}
