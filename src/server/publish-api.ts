import { z } from 'zod'
import { checkBroadcastKey } from '../auth/broadcast-key.js'
import { checkApiRate, type RateLimiter } from '../auth/rate-limit.js'
import { parseBody, readJson } from '../http/body.js'
import { sendJson } from '../http/respond.js'
import type { Cors } from '../http/cors.js'
import type { Router } from '../http/router.js'
import type { Hub } from '../hub/hub.js'

const publication = z.object({
  stream: z.string().min(1).max(1024),
  /** A string per AnyCable (JSON text or plain); any other JSON value is accepted too. */
  data: z.unknown().refine((v) => v !== undefined, 'required'),
  meta: z.record(z.string(), z.unknown()).optional(),
})
/** The body's schema: what zod accepts is what the API accepts (and words refusals). */
export const broadcastBody = z.union([publication, z.array(publication).min(1).max(1000)])

export interface Publication {
  stream: string
  data: unknown
  meta?: Record<string, unknown>
}

/** One publication as `publication` above accepts it, checked by hand. */
function isPublication(v: unknown): v is Publication {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false
  const p = v as Record<string, unknown>
  const { stream, meta } = p
  return typeof stream === 'string' && stream.length >= 1 && stream.length <= 1024 && p.data !== undefined &&
    (meta === undefined || (typeof meta === 'object' && meta !== null && !Array.isArray(meta)))
}

/**
 * The publications of a parsed `POST /_broadcast` body, in order. Valid bodies are checked by
 * hand: zod's parse cost 2-4 µs per publication on the jobs path (bench jobs cost budget). zod
 * still decides every body the hand check refuses, so refusals keep its wording, and the two
 * are held to agree by test/property/publish-body.test.ts.
 */
export function publications(body: unknown): Publication[] {
  if (Array.isArray(body)) {
    if (body.length >= 1 && body.length <= 1000 && body.every(isPublication)) return body
  } else if (isPublication(body)) return [body]
  const parsed = parseBody(broadcastBody, body)
  return Array.isArray(parsed) ? parsed : [parsed]
}

/**
 * AnyCable's HTTP broadcast: `POST /_broadcast` with one `{stream, data}` or an array of them,
 * published in order. Answers 201 with each message's position; 503 when the broker is down.
 */
export function addPublishRoute(router: Router, hub: Hub, cors: Cors, options: { broadcastKey: string; maxBodyBytes: number; maxJsonDepth: number; apiRate?: RateLimiter<string> }): void {
  router.add('OPTIONS', '/_broadcast', (req, res) => cors.preflight(req, res, 'POST, OPTIONS'))
  router.add('POST', '/_broadcast', async (req, res) => {
    cors.apply(req, res)
    if (options.apiRate) checkApiRate(options.apiRate, req.headers, req.socket?.remoteAddress)
    checkBroadcastKey(options.broadcastKey, req.headers, req.socket?.remoteAddress)
    const published = hub.publishBatch(publications(await readJson(req, options.maxBodyBytes, options.maxJsonDepth)))
    // The memory broker answers at once: no await (and no promise) per request (bench jobs).
    const messages = Array.isArray(published) ? published : await published
    sendJson(res, 201, messages.map((m) => ({ stream: m.stream, offset: m.offset, epoch: m.epoch })))
  })
}
