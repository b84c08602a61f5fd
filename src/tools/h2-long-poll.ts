import http2, { type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2'

/**
 * libwebsockets' `lws_h2_client_stream_long_poll_rxonly()`: half-closes an open HTTP/2 client
 * stream (an empty DATA frame with END_STREAM when nothing else is pending) and keeps reading.
 * On a server listener with `h2-half-closed-long-poll`, the stream is then "immortal": no idle
 * timeout for it or, while it lives, for its connection.
 */
export function streamLongPollRxOnly(stream: ClientHttp2Stream): ClientHttp2Stream {
  if (!stream.writableEnded) stream.end()
  return stream
}

export interface LongPollOptions {
  /** Extra request headers. */
  headers?: Record<string, string>
  /** Accept any TLS certificate (self-signed test pairs). */
  insecure?: boolean
  signal?: AbortSignal
}

export interface LongPoll {
  session: ClientHttp2Session
  stream: ClientHttp2Stream
  headers: IncomingHttpHeaders
  /** Every chunk of the response body, as text, until the server ends the stream. */
  chunks(): AsyncIterable<string>
  close(): void
}

/**
 * Opens `url` over HTTP/2 (TLS with ALPN h2 for https:, h2c with prior knowledge for http:),
 * sends a GET whose stream stays open, then turns it read-only with `streamLongPollRxOnly` once
 * the response headers arrive, as lws's `minimal-http-client -l` does.
 */
export async function openLongPoll(url: string | URL, options: LongPollOptions = {}): Promise<LongPoll> {
  const target = new URL(url)
  const session = http2.connect(target.origin, target.protocol === 'https:' ? { rejectUnauthorized: !options.insecure } : {})
  session.on('error', () => {}) // surfaced through the stream
  const stream = session.request(
    { ':method': 'GET', ':path': `${target.pathname}${target.search}`, ...options.headers },
    { endStream: false, ...(options.signal ? { signal: options.signal } : {}) },
  )
  const headers = await new Promise<IncomingHttpHeaders>((resolve, reject) => {
    stream.once('response', resolve)
    stream.once('error', reject)
    stream.once('close', () => reject(new Error(`stream closed before a response (rstCode ${stream.rstCode})`)))
  }).catch((err) => {
    session.destroy()
    throw err
  })
  streamLongPollRxOnly(stream)
  stream.setEncoding('utf8')
  return {
    session,
    stream,
    headers,
    chunks: () => stream as AsyncIterable<string>,
    close: () => {
      stream.close()
      session.close()
    },
  }
}
