import { ndjsonFraming } from '../framing/ndjson.js'
import type { Router } from '../http/router.js'
import { identifierParam, openStream, positionParam, sinceParam, type StreamDeps } from './stream-open.js'

export const NDJSON = 'application/x-ndjson; charset=utf-8'

/**
 * NDJSON over one long response: `GET /stream?stream=NAME` (or `signed_stream`, `identifier`),
 * resumed with `?after=&epoch=`. (A job's own stream, `/jobs/:id/stream`, is the jobs layer's.)
 */
export function addNdjsonRoutes(router: Router, deps: StreamDeps): void {
  router.add('OPTIONS', '/stream', (req, res) => deps.cors.preflight(req, res, 'GET, OPTIONS'))
  router.add('GET', '/stream', (req, res, _params, url) => {
    const identifier = identifierParam(url)
    const verdict = deps.core.authorizer.authorize(identifier)
    const since = sinceParam(url)
    const position = positionParam(url, verdict.ok ? verdict.stream : undefined)
    const history = position || since ? { ...position, since } : undefined
    return openStream(deps, req, res, url, { transport: 'http-stream', framing: ndjsonFraming, contentType: NDJSON, subscriptions: [{ identifier, history }] })
  })
}
