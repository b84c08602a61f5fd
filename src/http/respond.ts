import type { ServerResponse } from 'node:http'
import type { Http2ServerResponse } from 'node:http2'
import { HeraldError } from '../errors.js'

export type HttpResponse = ServerResponse | Http2ServerResponse

/** Sets each of `headers` on `res` (before its head is written). */
export function setHeaders(res: HttpResponse, headers: Readonly<Record<string, string>>): void {
  for (const name in headers) res.setHeader(name, headers[name])
}

export function sendJson(res: HttpResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
    ...headers,
  })
  res.end(text)
}

/** `{"error":{"code","message"}}` with the error's status; unknown errors become a 500. */
export function sendError(res: HttpResponse, err: unknown, extra: Record<string, unknown> = {}): void {
  const e = HeraldError.is(err) ? err : new HeraldError('HERALD_ERR_INTERNAL')
  if (res.headersSent) {
    res.end()
    return
  }
  const headers: Record<string, string> = e.retryAfterSec === undefined ? {} : { 'retry-after': String(Math.max(1, Math.ceil(e.retryAfterSec))) }
  sendJson(res, e.status, { error: { code: e.code, message: e.message, ...extra } }, headers)
}
