import type { Reply } from '../codec.js'
import type { Options } from '../options.js'

export type TransportName = 'ws' | 'sse' | 'ndjson' | 'lp'

/**
 * How a wire ended. `refused`: it never opened (a refused upgrade, an HTTP error status), so the
 * controller tries the next transport. `lost`: a network error or a stream that ended, so it
 * reconnects. `retry`: open the same wire again now (a rejected subscription was dropped).
 */
export type EndKind = 'refused' | 'lost' | 'retry'

/** What the controller hands a transport to open with. */
export interface Link {
  readonly o: Options
  /** Absolute URL of `path` on Herald, with the client's params (and `sid` when restoring). */
  url(path: string): string
  /** JSON Lines of subscribe commands: the streaming wires send them as their request body. */
  readonly body: string
  /** One reply from the server. */
  reply(message: Reply): void
  /** The wire is gone (called at most once, never after `close`). */
  end(kind: EndKind, why: string): void
}

/** One open wire. Wires that can carry commands (WebSocket, long polling) have `send`. */
export interface Transport {
  send?(command: string): void
  close(): void
}

export type Opener = (link: Link) => Transport
