import { z } from 'zod'
import { checkBroadcastKey } from '../auth/broadcast-key.js'
import { signStream } from '../auth/signed-stream.js'
import { HeraldError } from '../errors.js'
import { parseBody, readJson } from '../http/body.js'
import { sendJson } from '../http/respond.js'
import type { Router } from '../http/router.js'
import type { JobManager } from './job-manager.js'

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
  broadcastKey: string
  streamsSecret: string
}

/**
 * The jobs HTTP API: start (201 with the stream to follow and its signed name for WebSocket
 * clients), read a snapshot, cancel, and progress reports from outside workers.
 */
export function addJobRoutes(router: Router, jobs: JobManager, options: JobsApiOptions): void {
  const withStream = (snapshot: ReturnType<JobManager['start']>) => ({
    ...snapshot,
    signedStream: signStream(snapshot.stream, options.streamsSecret),
  })

  router.add('POST', '/jobs', async (req, res) => {
    const body = parseBody(startBody, await readJson(req, options.maxBodyBytes))
    const job = jobs.start(body.type, body.input)
    sendJson(res, 201, withStream(job), { location: `/jobs/${job.id}` })
  })

  router.add('GET', '/jobs', (_req, res) => {
    sendJson(res, 200, { types: jobs.typeNames })
  })

  router.add('GET', '/jobs/:id', (_req, res, { id }) => {
    const job = jobs.get(id)
    if (!job) throw new HeraldError('HERALD_ERR_NOT_FOUND', `job ${JSON.stringify(id)}`)
    sendJson(res, 200, withStream(job))
  })

  router.add('POST', '/jobs/:id/cancel', (_req, res, { id }) => {
    sendJson(res, 200, jobs.cancel(id))
  })

  router.add('POST', '/jobs/:id/progress', async (req, res, { id }) => {
    checkBroadcastKey(options.broadcastKey, req.headers.authorization, req.socket?.remoteAddress)
    if (!jobs.get(id)) throw new HeraldError('HERALD_ERR_NOT_FOUND', `job ${JSON.stringify(id)}`)
    const body = parseBody(reportBody, await readJson(req, options.maxBodyBytes))
    sendJson(res, 200, jobs.report(id, body))
  })
}
