import { HeraldError } from '../errors.js'
import { setHeaders, type HttpResponse } from './respond.js'
import type { HttpRequest } from './body.js'
import type { OriginPolicy } from './origin.js'

/** Request headers the HTTP transports read, allowed in preflights. */
const ALLOW_HEADERS = 'authorization, content-type, last-event-id, x-anycable-poll-id, x-anycable-restore-sid, x-jid'
/** Response headers scripts may read: the long-poll session id (the LP client reads it). */
const EXPOSE_HEADERS = 'x-anycable-poll-id'

const NONE: Readonly<Record<string, string>> = Object.freeze({})
const ANY: Readonly<Record<string, string>> = Object.freeze({
  'access-control-allow-origin': '*',
  'access-control-expose-headers': EXPOSE_HEADERS,
})

/**
 * CORS for the HTTP transports, per `--allowed-origins`. A request from an origin that is not
 * allowed is refused (403) rather than served without headers: the browser would hide the answer
 * from the page anyway, and the session it opened would be wasted.
 */
export class Cors {
  constructor(private readonly origins: OriginPolicy) {}

  /** Response headers for `req` (read-only); throws HERALD_ERR_FORBIDDEN_ORIGIN for a refused origin. */
  headers(req: HttpRequest): Readonly<Record<string, string>> {
    const origin = req.headers.origin
    if (!this.origins.allows(origin)) throw new HeraldError('HERALD_ERR_FORBIDDEN_ORIGIN', String(origin))
    const allow = this.origins.corsValue(origin)
    if (allow === undefined) return NONE
    // No Origin under the default policy (every non-browser poll): the same answer each time (bench churn long-poll).
    if (allow === '*') return ANY
    // Echoed origins may carry cookies (AnyCable authenticates polls like upgrades, cookies included).
    return {
      'access-control-allow-origin': allow,
      'access-control-expose-headers': EXPOSE_HEADERS,
      'access-control-allow-credentials': 'true',
      vary: 'Origin',
    }
  }

  /** Sets the CORS headers for `req` on `res`; throws HERALD_ERR_FORBIDDEN_ORIGIN for a refused origin. */
  apply(req: HttpRequest, res: HttpResponse): void {
    setHeaders(res, this.headers(req))
  }

  /** Answers an OPTIONS preflight: 204 with the allowed methods and headers. */
  preflight(req: HttpRequest, res: HttpResponse, methods: string): void {
    res.writeHead(204, {
      ...this.headers(req),
      'access-control-allow-methods': methods,
      'access-control-allow-headers': ALLOW_HEADERS,
      'access-control-max-age': '600',
    })
    res.end()
  }
}
