import type { ServerResponse } from 'node:http'
import type { Connection } from '../core/connection.js'
import type { Wire, WireInfo, WireRequest } from '../core/wire.js'
import { Disconnects, type Disconnect } from '../disconnect.js'
import { unchunk } from '../framing/chunked.js'
import type { HttpRequest } from '../http/body.js'
import type { HttpResponse } from '../http/respond.js'

/** What a transport learned from an HTTP request, in the form the core takes. */
export function wireRequest(req: HttpRequest, url: URL): WireRequest {
  return { url, headers: req.headers, remoteAddress: req.socket?.remoteAddress }
}

/**
 * Wire facts for an HTTP transport: the extended protocol always (history, positions). Only a
 * wire that can present a sid again (long polling's `?sid=`) is `restorable`; the others would
 * fill the restore cache for nothing.
 */
export function infoFor(transport: WireInfo['transport'], req: HttpRequest, framing: WireInfo['framing'], bidirectional = false): WireInfo {
  return Object.freeze({
    transport,
    httpVersion: req.httpVersionMajor === 2 ? '2' : '1.1',
    bidirectional,
    framing,
    extended: true,
    restorable: bidirectional,
  })
}

const kConn = Symbol('herald.connection')
type Tagged = HttpResponse & { [kConn]?: Connection }

function onDrain(this: Tagged): void {
  this[kConn]?.drained()
}

/** A one-off 'drain' listener after a refused direct write: rare, so its closure costs nothing per message. */
function drainedTo(conn: Connection): () => void {
  return () => conn.drained()
}

function onClose(this: Tagged): void {
  // A peer that went away mid-stream; after our own end() this is a no-op (the connection is done).
  this[kConn]?.closed()
}

/**
 * One long response as a Wire (SSE, NDJSON): frames are written to the response as they come,
 * `write` reports the response's backpressure and 'drain' resumes the outbox. Nothing is
 * written before `start()` sends the status line: until then `write` keeps the frames and
 * refuses more, so the outbox queues what the subscriptions add while the opener decides between
 * 200 and an error.
 */
export class StreamWire implements Wire {
  private conn: Connection | undefined
  private started = false
  /** Frames written before `start()` (the outbox writes a connection's first frame at once), sent right after the status line. */
  private early: Buffer[] | null = null
  private earlyBytes = 0

  constructor(
    readonly info: WireInfo,
    private readonly res: HttpResponse,
  ) {}

  /** Ties the response's events to the connection once the core has made it. */
  bind(conn: Connection): void {
    this.conn = conn
    const res = this.res as Tagged
    res[kConn] = conn
    res.on('drain', onDrain)
    res.on('close', onClose)
  }

  /** The status line is out: what the outbox holds may follow. */
  start(): void {
    this.started = true
    const early = this.early
    this.early = null
    this.earlyBytes = 0
    // A refused write waits for the response's 'drain', which resumes the outbox itself.
    if (early === null || this.write(early)) this.conn?.drained()
  }

  write(frames: Buffer[]): boolean {
    if (!this.started) {
      // Kept, and the outbox told to wait (`frames` is the outbox's own array: copy its items).
      const early = (this.early ??= [])
      for (const f of frames) if (f.length > 0) { early.push(f); this.earlyBytes += f.length }
      return false
    }
    const res = this.res
    if (res.writableEnded || res.destroyed) return true
    let bytes = 0
    for (const f of frames) bytes += f.length
    // Quiet framings drop bookkeeping replies as empty frames; an empty write would only cost a syscall.
    if (bytes === 0) return true
    const data = frames.length === 1 ? frames[0] : Buffer.concat(frames)
    if (this.info.framing.chunked) return this.writeChunks(data)
    // Both response types take a Buffer; TypeScript cannot call the union of their overloads.
    return (res as ServerResponse).write(data)
  }

  /**
   * HTTP/1.1 with a chunked framing: the bytes are whole chunks already, so they go straight to
   * the socket in one write (bench fanout sse/ndjson). Only when the response itself still holds
   * bytes (or is not chunked after all) do they go through it, unchunked, to keep the order.
   */
  private writeChunks(data: Buffer): boolean {
    const res = this.res as ServerResponse & { chunkedEncoding?: boolean }
    const socket = res.socket
    if (socket && res.headersSent && res.chunkedEncoding === true && res.writableLength === socket.writableLength) {
      const ok = socket.write(data)
      if (!ok && this.conn) socket.once('drain', drainedTo(this.conn))
      return ok
    }
    return res.write(unchunk(data))
  }

  get bufferedBytes(): number {
    return this.res.writableLength + this.earlyBytes
  }

  close(reason: Disconnect): void {
    const res = this.res as Tagged
    if (reason === Disconnects.slow) res.destroy()
    else if (!res.writableEnded) res.end()
  }
}
