import net from 'node:net'

/**
 * A TCP relay on loopback between a test's client and Herald, for what a client library cannot
 * do on its own: `stall()` stops reading from the server (a reader whose kernel buffers fill, the
 * way a stuck browser tab's would), `cut()` drops every connection as a network failure would.
 * It also keeps what clients sent (HTTP/1.1 request heads, say), so a test can see what a
 * browser asked for on a reconnect.
 */
export class TcpRelay {
  /** Every chunk clients sent, in order, as latin1 text. */
  readonly sent: string[] = []
  private readonly server: net.Server
  private readonly pairs = new Set<{ client: net.Socket; upstream: net.Socket }>()
  private stalled = false

  constructor(private readonly target: { host: string; port: number }) {
    this.server = net.createServer((client) => {
      const upstream = net.connect(this.target)
      const pair = { client, upstream }
      this.pairs.add(pair)
      client.on('data', (chunk: Buffer) => this.sent.push(chunk.toString('latin1')))
      // pipe() carries backpressure both ways; a stalled upstream is simply never read again.
      client.pipe(upstream)
      upstream.pipe(client)
      if (this.stalled) this.stallPair(pair)
      const end = () => {
        this.pairs.delete(pair)
        client.destroy()
        upstream.destroy()
      }
      for (const s of [client, upstream]) {
        s.on('error', () => {})
        s.on('close', end)
      }
    })
  }

  /** Relays `http://127.0.0.1:<herald port>` from a new port; resolves with the relay's base URL. */
  static async to(baseUrl: string): Promise<TcpRelay & { url: string }> {
    const { hostname, port } = new URL(baseUrl)
    const relay = new TcpRelay({ host: hostname, port: Number(port) })
    await new Promise<void>((resolve) => relay.server.listen(0, '127.0.0.1', resolve))
    const url = `http://127.0.0.1:${(relay.server.address() as net.AddressInfo).port}`
    return Object.assign(relay, { url })
  }

  /** Connections being relayed right now. */
  get size(): number {
    return this.pairs.size
  }

  /** Stops reading what the server sends, on every connection (new ones included). */
  stall(): void {
    this.stalled = true
    for (const pair of this.pairs) this.stallPair(pair)
  }

  /** Reads from the server again (a paused socket notices neither data nor the server's close). */
  resume(): void {
    this.stalled = false
    for (const { upstream, client } of this.pairs) {
      upstream.pipe(client)
      upstream.resume()
    }
  }

  /** Drops every connection at once, both sides, without waiting for anything. */
  cut(): void {
    for (const { client, upstream } of this.pairs) {
      client.destroy()
      upstream.destroy()
    }
    this.pairs.clear()
  }

  close(): void {
    this.cut()
    this.server.close()
  }

  private stallPair({ upstream, client }: { upstream: net.Socket; client: net.Socket }): void {
    upstream.unpipe(client)
    upstream.pause()
  }
}
