import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'

/**
 * Refuses a request that arrived on a raw socket (an HTTP/1.1 upgrade, CONNECT, or a request
 * the parser could not read) with a bare status line, then closes the socket: the one place such
 * answers are written (ws's `abortHandshake`).
 */
export function abortHandshake(socket: Duplex, status: number, headers: Record<string, string> = {}): void {
  if (!socket.writable) {
    socket.destroy()
    return
  }
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Length: 0\r\n`
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`
  socket.end(`${head}\r\n`)
}
