import type { Disconnect } from '../disconnect.js'
import type { Framing } from '../framing/framing.js'

export type TransportName = 'ws' | 'ws-h2' | 'sse' | 'http-stream' | 'long-poll' | 'job-poll' | 'h2-stream'

export interface WireInfo {
  readonly transport: TransportName
  readonly httpVersion: '1.1' | '2'
  /** May the client send commands on this wire? */
  readonly bidirectional: boolean
  readonly framing: Framing
  /** The extended protocol (history, positions, restore)? */
  readonly extended: boolean
  /**
   * Can a client come back to this connection by its sid? False for wires that have no way to
   * send one (SSE, NDJSON), so their ends leave nothing in the restore cache.
   */
  readonly restorable: boolean
}

/**
 * The port between the core and a transport (centrifuge's `Transport`): the only transport type
 * the core sees. The transport implements it; the core hands back a WireSink for the other
 * direction.
 */
export interface Wire {
  readonly info: WireInfo
  /** Writes frames in order; false = stop and wait for `WireSink.drained()`. */
  write(frames: Buffer[]): boolean
  /** Bytes accepted by `write` that have not reached the kernel yet. */
  readonly bufferedBytes: number
  /** Ends the wire with this reason (after any final frame the core already wrote). */
  close(reason: Disconnect): void
  /** Sends the wire's own liveness probe (a WebSocket ping frame), whose answer calls `heard()`. */
  probe?(): void
}

/** What the core gives back to a transport: where the client's input goes. */
export interface WireSink {
  /** One complete client command (a WebSocket message, a JSON line). */
  receive(text: string): void
  drained(): void
  /** Liveness that is not a command (a WebSocket pong). */
  heard(): void
  /** The wire is gone; `reason` when the transport knows why (a peer close, an error). */
  closed(reason?: Disconnect): void
}

/** What a transport learned from the request that opened the wire. */
export interface WireRequest {
  readonly url: URL
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
  readonly remoteAddress: string | undefined
}
