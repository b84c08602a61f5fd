import { ndjsonFraming, ndjsonFullFraming } from '../framing/ndjson.js'
import { readBody } from '../http/body.js'
import type { Router } from '../http/router.js'
import { identifierParam, openStream, positionParam, sinceParam, type StreamDeps } from './stream-open.js'
import { subscribeLines } from './subscribe-lines.js'

export const NDJSON = 'application/x-ndjson; charset=utf-8'

/**
 * NDJSON over one long response: `GET /stream?stream=NAME` (or `signed_stream`, `identifier`),
 * resumed with `?after=&epoch=`; and `POST /stream`, NDJSON's counterpart of `POST /events`, so a
 * client follows all its streams over one response, each resumed from its own position. (A job's
 * own stream, `/jobs/:id/stream`, is the jobs layer's.)
 */
export function addNdjsonRoutes(router: Router, deps: StreamDeps, options: { maxBodyBytes: number }): void {
  router.add('OPTIONS', '/stream', (req, res) => deps.cors.preflight(req, res, 'GET, POST, OPTIONS'))
  router.add('GET', '/stream', (req, res, _params, url) => {
    const identifier = identifierParam(url)
    const verdict = deps.core.authorizer.authorize(identifier)
    const since = sinceParam(url)
    const position = positionParam(url, verdict.ok ? verdict.stream : undefined)
    const history = position || since ? { ...position, since } : undefined
    return openStream(deps, req, res, url, { transport: 'http-stream', framing: ndjsonFraming, contentType: NDJSON, subscriptions: [{ identifier, history }] })
  })
  router.add('POST', '/stream', async (req, res, _params, url) => {
    const subscriptions = subscribeLines(await readBody(req, options.maxBodyBytes), deps.core.commandLimits)
    return openStream(deps, req, res, url, { transport: 'http-stream', framing: ndjsonFullFraming, contentType: NDJSON, subscriptions })
  })
}
