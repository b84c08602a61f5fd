import { z } from 'zod'
import { checkBroadcastKey } from '../auth/broadcast-key.js'
import { checkApiRate, type RateLimiter } from '../auth/rate-limit.js'
import { signStream } from '../auth/signed-stream.js'
import { HeraldError } from '../errors.js'
import { parseBody, readJson } from '../http/body.js'
import { sendJson } from '../http/respond.js'
import type { Cors } from '../http/cors.js'
import type { Router } from '../http/router.js'
import type { JobManager } from './job-manager.js'
import type { JobSnapshot } from './job.js'

const startBody = z.strictObject({
  type: z.string().min(1),
  input: z.unknown().optional(),
})

const reportBody = z.strictObject({
  progress: z.number().min(0).max(1).optional(),
  message: z.string().max(4096).optional(),
  data: z.unknown().optional(),
  state: z.enum(['running', 'succeeded', 'failed']).optional(),
  result: z.unknown().optional(),
  error: z.string().max(4096).optional(),
})

export interface JobsApiOptions {
  maxBodyBytes: number
  maxJsonDepth: number
  broadcastKey: string
  streamsSecret: string
  /** Requests a second per key or IP (--rate-api-requests). */
  apiRate?: RateLimiter<string>
}

/**
 * The jobs HTTP API: start (201 with the stream to follow and its signed name for WebSocket
 * clients), read a snapshot, cancel, and progress reports from outside workers. Every route
 * applies `--allowed-origins` with CORS (a foreign page gets 403), as the transports do.
 */
export function addJobRoutes(router: Router, jobs: JobManager, cors: Cors, options: JobsApiOptions): void {
  const withStream = (snapshot: JobSnapshot) => ({
    ...snapshot,
    signedStream: signStream(snapshot.stream, options.streamsSecret),
  })
  const limited = (req: { headers: Record<string, string | string[] | undefined>; socket?: { remoteAddress?: string } | null }) => {
    if (options.apiRate) checkApiRate(options.apiRate, req.headers, req.socket?.remoteAddress ?? undefined)
  }
  const preflight = (path: string, methods: string) => router.add('OPTIONS', path, (req, res) => cors.preflight(req, res, methods))

  preflight('/jobs', 'GET, POST, OPTIONS')
  router.add('POST', '/jobs', async (req, res) => {
    cors.apply(req, res)
    limited(req)
    const body = parseBody(startBody, await readJson(req, options.maxBodyBytes, options.maxJsonDepth))
    const job = await jobs.start(body.type, body.input)
    sendJson(res, 201, withStream(job), { location: `/jobs/${job.id}` })
  })

  router.add('GET', '/jobs', (req, res) => {
    cors.apply(req, res)
    sendJson(res, 200, { types: jobs.typeNames })
  })

  preflight('/jobs/:id', 'GET, OPTIONS')
  router.add('GET', '/jobs/:id', async (req, res, { id }) => {
    cors.apply(req, res)
    limited(req)
    const job = await jobs.get(id)
    if (!job) throw new HeraldError('HERALD_ERR_NOT_FOUND', `job ${JSON.stringify(id)}`)
    sendJson(res, 200, withStream(job))
  })

  preflight('/jobs/:id/cancel', 'POST, OPTIONS')
  router.add('POST', '/jobs/:id/cancel', async (req, res, { id }) => {
    cors.apply(req, res)
    limited(req)
    sendJson(res, 200, await jobs.cancel(id))
  })

  preflight('/jobs/:id/progress', 'POST, OPTIONS')
  router.add('POST', '/jobs/:id/progress', async (req, res, { id }) => {
    cors.apply(req, res)
    limited(req)
    checkBroadcastKey(options.broadcastKey, req.headers, req.socket?.remoteAddress)
    if (!(await jobs.get(id))) throw new HeraldError('HERALD_ERR_NOT_FOUND', `job ${JSON.stringify(id)}`)
    const body = parseBody(reportBody, await readJson(req, options.maxBodyBytes, options.maxJsonDepth))
    sendJson(res, 200, await jobs.report(id, body))
  })
}
