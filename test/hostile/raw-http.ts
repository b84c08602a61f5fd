import net from 'node:net'
import { within } from '../support/util.js'

/**
 * Bytes written straight onto a TCP socket at `base` (http://host:port), for requests no client
 * library would send; resolves with the status of the first answer and everything read until the
 * server closed the connection (or 5 s passed; then what came so far).
 */
export async function rawHttp(base: string, head: string[] | string, body: string | Buffer = ''): Promise<{ status: number; text: string }> {
  const { hostname, port } = new URL(base)
  const s = net.connect(Number(port), hostname)
  let text = ''
  s.setEncoding('latin1')
  s.on('data', (d: string) => (text += d))
  s.on('error', () => { /* a reset after the answer; 'close' follows */ })
  const closed = new Promise<void>((resolve) => s.once('close', () => resolve()))
  s.once('connect', () => {
    s.write(typeof head === 'string' ? head : [...head, '', ''].join('\r\n'))
    s.write(body)
  })
  await within(closed, 5000, 'the server to close the connection').catch(() => s.destroy())
  return { status: Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0), text }
}
