import { isUtf8 } from 'node:buffer'
import type { IncomingMessage } from 'node:http'
import type { Http2ServerRequest } from 'node:http2'
import type { z } from 'zod'
import { HeraldError } from '../errors.js'
import { jsonTooDeep } from '../protocol/json-depth.js'

export type HttpRequest = IncomingMessage | Http2ServerRequest

/**
 * Reads a request body of at most `maxBytes`. A declared Content-Length over the limit is refused
 * before reading; otherwise chunks are counted as they arrive and reading stops at the limit
 * (hono's bodyLimit). Invalid UTF-8 is refused rather than silently replaced.
 */
export function readBody(req: HttpRequest, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > maxBytes) {
    req.resume() // let the rest arrive and be discarded so the response can be read
    return Promise.reject(new HeraldError('HERALD_ERR_BODY_TOO_LARGE', `${declared} bytes declared, limit ${maxBytes}`))
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    let failed = false
    const onData = (chunk: Buffer) => {
      if (failed) return
      size += chunk.length
      if (size > maxBytes) {
        failed = true
        chunks.length = 0
        reject(new HeraldError('HERALD_ERR_BODY_TOO_LARGE', `over ${maxBytes} bytes`))
        return
      }
      chunks.push(chunk)
    }
    req.on('data', onData)
    req.once('end', () => {
      if (failed) return
      const body = Buffer.concat(chunks, size)
      if (!isUtf8(body)) reject(new HeraldError('HERALD_ERR_INVALID_UTF8', 'request body'))
      else resolve(body)
    })
    req.once('error', (err) => {
      // The client reset the connection mid-body, or the parser refused the rest of it (a bad
      // chunk; answered 400 by the server's clientError): the client's doing, not a failure here.
      if (!failed) reject(new HeraldError('HERALD_ERR_REQUEST_ABORTED', err.message, { cause: err }))
      failed = true
    })
  })
}

/**
 * True when the headers alone show the body is empty: `Content-Length: 0`, or an HTTP/1.x request
 * with neither Content-Length nor Transfer-Encoding (RFC 9112 §6.3: no body). Lets a caller skip
 * `readBody`'s listeners, promise and stream ticks (bench churn long-poll: every poll but the first).
 */
export function bodyIsEmpty(req: HttpRequest): boolean {
  const h = req.headers
  const length = h['content-length']
  if (length !== undefined) return length === '0'
  return req.httpVersionMajor === 1 && h['transfer-encoding'] === undefined
}

/**
 * Reads and parses a JSON body; an empty body is `undefined`. JSON nested deeper than `maxDepth`
 * is refused before it is parsed (protocol/json-depth.ts).
 */
export async function readJson(req: HttpRequest, maxBytes: number, maxDepth: number): Promise<unknown> {
  const body = await readBody(req, maxBytes)
  if (body.length === 0) return undefined
  const text = body.toString('utf8')
  if (jsonTooDeep(text, maxDepth)) throw new HeraldError('HERALD_ERR_JSON_TOO_DEEP', `deeper than ${maxDepth} levels (--max-json-depth)`)
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new HeraldError('HERALD_ERR_BAD_JSON', (err as Error).message)
  }
}

/** zod issues as one sentence naming each path, for 400 answers. */
export function describeIssues(err: z.ZodError, root = 'body'): string {
  return err.issues.map((i) => `${[root, ...i.path].join('.')}: ${i.message}`).join('; ')
}

/** Validates a parsed JSON body against `schema`; 400 naming every problem by path. */
export function parseBody<T>(schema: z.ZodType<T>, value: unknown, root = 'body'): T {
  if (value === undefined) throw new HeraldError('HERALD_ERR_BAD_REQUEST', `${root}: a JSON body is required`)
  const result = schema.safeParse(value)
  if (!result.success) throw new HeraldError('HERALD_ERR_BAD_REQUEST', describeIssues(result.error, root))
  return result.data
}
