import type { TransportName } from './transports/transport.js'

/** A WebSocket class: the browser's, or `ws` in Node 20 (which has no global one). */
export type WebSocketClass = new (url: string, protocol: string) => any

export interface ClientOptions {
  /** Herald's base URL (`http(s)://host:port`); in a browser, the page's origin by default. */
  url?: string
  /** Transports in order of preference; the first that opens is used, the better ones are probed later. Default: ws, sse, ndjson, lp. */
  transports?: TransportName[]
  /** WebSocket path (Herald's --path). Default /cable. */
  path?: string
  /** Long-polling path (Herald's --poll-path). Default /lp. */
  pollPath?: string
  /** Query parameters for every transport URL, e.g. `{ jid: token }`. */
  params?: Record<string, string>
  WebSocket?: WebSocketClass
  fetch?: typeof fetch
  /** Ms to wait for `welcome` before trying the next transport (a blocked upgrade, a buffering proxy). Default 5000. */
  openTimeout?: number
  /** Ms without any frame (Herald pings every 3 s) after which a WebSocket, SSE or NDJSON wire is dropped. Default 10000. */
  staleAfter?: number
  /** Ms after which an unanswered long poll is abandoned (Herald holds one 15 s). Default 30000. */
  pollTimeout?: number
  /** Ms on a fallback transport before the better ones are probed; doubles after each failed probe, up to 16x. Default 10000. */
  upgradeAfter?: number
  /** Reconnect delays in ms: [first, most]; doubled per attempt, with jitter (x0.5-1). Default [300, 5000]. */
  backoff?: [number, number]
}

export type Options = Required<Omit<ClientOptions, 'WebSocket'>> & Pick<ClientOptions, 'WebSocket'>

export function resolve(options: ClientOptions): Options {
  const o: any = {
    url: (globalThis as any).location?.href,
    transports: ['ws', 'sse', 'ndjson', 'lp'],
    path: '/cable',
    pollPath: '/lp',
    params: {},
    // Called bare, browsers' fetch throws "Illegal invocation".
    fetch: (input: RequestInfo | URL, init?: RequestInit) => fetch(input, init),
    openTimeout: 5000,
    staleAfter: 10000,
    pollTimeout: 30000,
    upgradeAfter: 10000,
    backoff: [300, 5000],
  }
  // An option given as undefined keeps its default.
  for (const [k, v] of Object.entries(options)) if (v !== undefined) o[k] = v
  return o
}
