import type { Disconnect } from '../disconnect.js'
import type { StreamMessage } from '../protocol/messages.js'

export type TransportName = 'ws' | 'ws-h2' | 'sse' | 'http-stream' | 'long-poll' | 'job-poll' | 'h2-stream'

/**
 * How encoded protocol messages become bytes on one kind of wire. Each framing encodes a
 * broadcast once for all of its sessions (hub/prepared-frames.ts caches by `id`).
 */
export interface Framing {
  /**
   * Small dense integer, an index into per-broadcast caches. Taken: 0 WebSocket text frames,
   * 1 SSE (GET), 2 SSE (POST, whole replies), 3 SSE for jobs, 4 NDJSON, 5 long-poll JSON Lines,
   * 6 per-job poll records; 7 + n the HTTP/1.1 chunked form of framing n (framing/chunked.ts);
   * 14 NDJSON with whole replies (POST /stream, stream-post.ts).
   */
  readonly id: number
  readonly name: string
  /** Frames are whole HTTP/1.1 chunks, written to the socket as they are (framing/chunked.ts). */
  readonly chunked?: boolean
  /** A control reply or transmission (JSON text of the whole reply object). */
  reply(json: string): Buffer
  /** A positioned broadcast for `identifier`; `json` is the full data reply built once by the hub. */
  data(json: string, identifier: string, message: StreamMessage): Buffer
}

export interface SessionInfo {
  readonly transport: TransportName
  readonly httpVersion: '1.1' | '2'
  /** May the client send commands on this wire? */
  readonly bidirectional: boolean
  readonly framing: Framing
  /** The extended protocol (history, positions, restore)? */
  readonly extended: boolean
  /**
   * Can a client come back to this session by its sid? False for wires that have no way to send
   * one (SSE, NDJSON, per-job polls), so their ends leave nothing in the session cache. Default true.
   */
  readonly restorable?: boolean
}

/**
 * The only transport type the core sees. The transport implements it; the core hands the
 * transport a SessionSink for the other direction.
 */
export interface Session {
  readonly info: SessionInfo
  /** Writes frames in order; false = stop and wait for `SessionSink.drained()`. */
  write(frames: Buffer[]): boolean
  /** Bytes accepted by `write` that have not reached the kernel yet. */
  readonly bufferedBytes: number
  /** Ends the wire with this reason (after any final frame the core already wrote). */
  close(reason: Disconnect): void
  /** Sends the wire's own liveness probe (a WebSocket ping frame), whose answer calls `heard()`. */
  probe?(): void
  /**
   * Called after the connection queued a message that ends its stream (a job's `succeeded`,
   * `failed` or `cancelled`; see StreamHooks.isFinal), for wires that end with the stream.
   */
  finalMessage?(identifier: string, message: StreamMessage): void
}

export interface SessionSink {
  /** One complete client command (a WebSocket message, a JSON line). */
  receive(text: string): void
  drained(): void
  /** Liveness that is not a command (a WebSocket pong). */
  heard(): void
  /** The wire is gone; `reason` when the transport knows why (a peer close, an error). */
  closed(reason?: Disconnect): void
}

/** What a transport learned from the request that opened the session. */
export interface SessionRequest {
  readonly url: URL
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
  readonly remoteAddress: string | undefined
}
