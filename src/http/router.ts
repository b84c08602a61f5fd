import type { HttpRequest } from './body.js'
import { HeraldError } from '../errors.js'
import { sendError, type HttpResponse } from './respond.js'

export type Handler = (req: HttpRequest, res: HttpResponse, params: Record<string, string>, url: URL) => void | Promise<void>
/** A handler that reads no query: it gets the URL only when routing had to parse one anyway. */
export type PathHandler = (req: HttpRequest, res: HttpResponse, params: Record<string, string>, url: URL | undefined) => void | Promise<void>

/** The base that request targets (origin-form paths) are resolved against. */
const BASE = 'http://herald.invalid'

/** The request's target as a URL; throws (TypeError) for a target the URL parser refuses. */
export function requestUrl(req: HttpRequest): URL {
  return new URL(req.url ?? '/', BASE)
}

interface Route {
  method: string
  path: string
  pattern: RegExp
  names: string[]
  handler: Handler | PathHandler
  /** The handler takes a URL argument: one is parsed if routing did not. */
  wantsUrl: boolean
}

/** A small path table: `/jobs/:id/cancel` patterns, 404 for unknown paths, 405 with Allow for wrong methods. */
export class Router {
  private readonly routes: Route[] = []
  /** Literal path → the routes, in order, whose pattern matches it; rebuilt after `add`. */
  private exact: Map<string, Route[]> | undefined

  add(method: string, path: string, handler: Handler): this {
    return this.push(method, path, handler, true)
  }

  /**
   * Like `add`, for a hot route whose handler needs no query string: no `new URL` per request
   * (3.6% of the server's time in bench churn long-poll); the handler parses one itself if it must.
   */
  addPathOnly(method: string, path: string, handler: PathHandler): this {
    return this.push(method, path, handler, false)
  }

  private push(method: string, path: string, handler: Handler | PathHandler, wantsUrl: boolean): this {
    const names: string[] = []
    const source = path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:(\w+)/g, (_, name: string) => {
      names.push(name)
      return '([^/]+)'
    })
    this.routes.push({ method, path, pattern: new RegExp(`^${source}$`), names, handler, wantsUrl })
    this.exact = undefined
    return this
  }

  /** For each literal route path, every route that matches it: one Map lookup instead of a regex per route per request (bench churn long-poll). */
  private exactTable(): Map<string, Route[]> {
    const table = new Map<string, Route[]>()
    for (const r of this.routes) {
      if (r.names.length === 0 && !table.has(r.path)) table.set(r.path, this.routes.filter((x) => x.pattern.test(r.path)))
    }
    return table
  }

  /**
   * Dispatches `pathname` (and `url`, when the caller parsed one); false when no route has this
   * path (the caller answers 404), true once handled, or the handler's promise when it is async.
   */
  dispatch(req: HttpRequest, res: HttpResponse, pathname: string, url?: URL): boolean | Promise<void> {
    const exact = (this.exact ??= this.exactTable()).get(pathname)
    let allowed: string[] | undefined
    for (const route of exact ?? this.routes) {
      // Routes listed for a literal path are known to match it; only their params need the regex.
      const m = exact !== undefined && route.names.length === 0 ? null : route.pattern.exec(pathname)
      if (m === null && exact === undefined) continue
      if (route.method !== req.method && !(route.method === 'GET' && req.method === 'HEAD')) {
        ;(allowed ??= []).push(route.method)
        continue
      }
      const params: Record<string, string> = {}
      if (m !== null) {
        try {
          route.names.forEach((n, i) => (params[n] = decodeURIComponent(m[i + 1])))
        } catch {
          throw new HeraldError('HERALD_ERR_BAD_REQUEST', `malformed percent-encoding in ${pathname}`)
        }
      }
      const out = route.handler(req, res, params, url ?? (route.wantsUrl ? requestUrl(req) : undefined) as URL)
      return out !== undefined && typeof out.then === 'function' ? out : true
    }
    if (allowed === undefined) return false
    res.setHeader('allow', [...new Set(allowed)].join(', '))
    sendError(res, new HeraldError('HERALD_ERR_METHOD_NOT_ALLOWED', `${req.method} ${pathname}; allowed: ${allowed.join(', ')}`))
    return true
  }
}
