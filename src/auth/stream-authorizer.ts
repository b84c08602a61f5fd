import { parseIdentifier } from '../protocol/identifier.js'
import { verifySignedStream } from './signed-stream.js'

export interface StreamAuthorizerOptions {
  publicStreams: boolean
  streamsSecret: string
}

export type StreamVerdict = { ok: true; stream: string } | { ok: false; why: string }

/** Decides which stream a `$pubsub` channel identifier may read (AnyCable's streams controller). */
export class StreamAuthorizer {
  constructor(private readonly options: StreamAuthorizerOptions) {}

  authorize(identifier: string): StreamVerdict {
    const request = parseIdentifier(identifier)
    if (!request) return { ok: false, why: 'identifier is not a channel object' }
    switch (request.kind) {
      case 'signed': {
        const stream = verifySignedStream(request.signed, this.options.streamsSecret)
        return stream === undefined ? { ok: false, why: 'bad stream signature' } : { ok: true, stream }
      }
      case 'public':
        return this.options.publicStreams
          ? { ok: true, stream: request.stream }
          : { ok: false, why: 'public streams are disabled (--public-streams)' }
      case 'other':
        return { ok: false, why: `unknown channel ${JSON.stringify(request.channel)} (only $pubsub is served)` }
    }
  }
}
