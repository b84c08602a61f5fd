import type { HttpRequest } from '../transport/http-body.js'
import { HeraldError } from '../errors.js'
import { sendError, type HttpResponse } from './respond.js'

export type Handler = (req: HttpRequest, res: HttpResponse, params: Record<string, string>, url: URL) => void | Promise<void>

interface Route {
  method: string
  pattern: RegExp
  names: string[]
  handler: Handler
}

/** A small path table: `/jobs/:id/cancel` patterns, 404 for unknown paths, 405 with Allow for wrong methods. */
export class Router {
  private readonly routes: Route[] = []

  add(method: string, path: string, handler: Handler): this {
    const names: string[] = []
    const source = path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:(\w+)/g, (_, name: string) => {
      names.push(name)
      return '([^/]+)'
    })
    this.routes.push({ method, pattern: new RegExp(`^${source}$`), names, handler })
    return this
  }

  /** Dispatches; returns false when no route has this path (the caller answers 404). */
  async dispatch(req: HttpRequest, res: HttpResponse, url: URL): Promise<boolean> {
    const allowed: string[] = []
    for (const route of this.routes) {
      const m = route.pattern.exec(url.pathname)
      if (!m) continue
      if (route.method !== req.method && !(route.method === 'GET' && req.method === 'HEAD')) {
        allowed.push(route.method)
        continue
      }
      const params: Record<string, string> = {}
      try {
        route.names.forEach((n, i) => (params[n] = decodeURIComponent(m[i + 1])))
      } catch {
        throw new HeraldError('HERALD_ERR_BAD_REQUEST', `malformed percent-encoding in ${url.pathname}`)
      }
      await route.handler(req, res, params, url)
      return true
    }
    if (allowed.length === 0) return false
    res.setHeader('allow', [...new Set(allowed)].join(', '))
    sendError(res, new HeraldError('HERALD_ERR_METHOD_NOT_ALLOWED', `${req.method} ${url.pathname}; allowed: ${allowed.join(', ')}`))
    return true
  }
}
