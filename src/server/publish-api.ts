import { z } from 'zod'
import { checkBroadcastKey } from '../auth/broadcast-key.js'
import type { Hub } from '../hub/hub.js'
import { parseBody } from '../jobs/jobs-api.js'
import { readJson } from '../http/body.js'
import { sendJson } from '../http/respond.js'
import type { Router } from '../http/router.js'

const publication = z.object({
  stream: z.string().min(1).max(1024),
  /** A string per AnyCable (JSON text or plain); any other JSON value is accepted too. */
  data: z.unknown().refine((v) => v !== undefined, 'required'),
  meta: z.record(z.string(), z.unknown()).optional(),
})
const broadcastBody = z.union([publication, z.array(publication).min(1).max(1000)])

/**
 * AnyCable's HTTP broadcast: `POST /_broadcast` with one `{stream, data}` or an array of them,
 * published in order. Answers 201 with each message's position.
 */
export function addBroadcastRoute(router: Router, hub: Hub, options: { broadcastKey: string; maxBodyBytes: number }): void {
  router.add('POST', '/_broadcast', async (req, res) => {
    checkBroadcastKey(options.broadcastKey, req.headers.authorization, req.socket?.remoteAddress)
    const body = parseBody(broadcastBody, await readJson(req, options.maxBodyBytes))
    const list = Array.isArray(body) ? body : [body]
    const positions = []
    for (const p of list) {
      const m = hub.publishNow(p.stream, p.data) ?? (await hub.publish(p.stream, p.data))
      positions.push({ stream: m.stream, offset: m.offset, epoch: m.epoch })
    }
    sendJson(res, 201, positions)
  })
}
