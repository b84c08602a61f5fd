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
const broadcastBody = z.union([publication, z.array(publication).min(1).max(1000)])

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
    const body = parseBody(broadcastBody, await readJson(req, options.maxBodyBytes, options.maxJsonDepth))
    const published = hub.publishBatch(Array.isArray(body) ? body : [body])
    // The memory broker answers at once: no await (and no promise) per request (bench jobs).
    const messages = Array.isArray(published) ? published : await published
    sendJson(res, 201, messages.map((m) => ({ stream: m.stream, offset: m.offset, epoch: m.epoch })))
  })
}
