import { createRequire } from 'node:module'
import type { WebSocket } from 'ws'

/** The parts of ws's CommonJS entry that its ESM wrapper leaves out. */
interface PerMessageDeflateLike {
  readonly params: { server_max_window_bits?: number } | null
  accept(offers: unknown[]): Record<string, unknown>
}
interface WsStatics {
  PerMessageDeflate: { new (options: Record<string, unknown>): PerMessageDeflateLike; extensionName: string }
  extension: { parse(header: string): Record<string, Record<string, unknown>[]>; format(extensions: Record<string, unknown[]>): string }
}
const { PerMessageDeflate, extension } = createRequire(import.meta.url)('ws') as WsStatics

export const EXTENSION_NAME = PerMessageDeflate.extensionName

/**
 * ws's PerMessageDeflate options for Herald (`--ws-compression`). The server always takes
 * server_no_context_takeover (RFC 7692 §7.1.1.1), which lets one compressed frame serve every
 * subscriber; the other parameters of the client's offer (server_max_window_bits,
 * client_no_context_takeover, client_max_window_bits) are honoured as offered. Herald never
 * sends data through ws, so only ws's inflate side (client messages) runs, under maxPayload.
 */
export const DEFLATE_OPTIONS = Object.freeze({ serverNoContextTakeover: true })

/**
 * The offers Herald can take, as header text for ws: an offer that limits the server's window to
 * 8 bits is dropped (zlib's raw deflate has no 8-bit window; RFC 7692 §7.1.2.1 lets a server
 * decline an offer it cannot honour). `undefined` when none is left, `null` when the header does
 * not parse (the handshake is then refused with 400, as ws does).
 */
export function usableOffers(header: string): string | undefined | null {
  let parsed
  try {
    parsed = extension.parse(header)
  } catch {
    return null
  }
  const offers = parsed[EXTENSION_NAME]
  if (!offers) return undefined
  const usable = offers.filter((o) => !(o.server_max_window_bits as unknown[] | undefined)?.includes('8'))
  return usable.length ? extension.format({ [EXTENSION_NAME]: usable }) : undefined
}

export interface Negotiated {
  /** What the extension's instance for this WebSocket takes (ws._extensions). */
  extensions: Record<string, PerMessageDeflateLike>
  /** The `sec-websocket-extensions` response header. */
  header: string
}

/**
 * Server-side negotiation for a handshake ws's own server does not see (RFC 8441 over HTTP/2),
 * the same as WebSocketServer does for HTTP/1.1. Undefined: no acceptable offer (the
 * WebSocket goes uncompressed); null: a malformed header (400).
 */
export function negotiate(header: string, maxPayload: number): Negotiated | undefined | null {
  const usable = usableOffers(header)
  if (usable === null) return null
  if (usable === undefined) return undefined
  const pmd = new PerMessageDeflate({ ...DEFLATE_OPTIONS, isServer: true, maxPayload })
  let params
  try {
    params = pmd.accept(extension.parse(usable)[EXTENSION_NAME])
  } catch {
    return null
  }
  return { extensions: { [EXTENSION_NAME]: pmd }, header: extension.format({ [EXTENSION_NAME]: [params] }) }
}

/** The window of the compressor a WebSocket's client accepted (15 unless it asked for less); undefined when uncompressed. */
export function deflateWindowBits(ws: WebSocket): number | undefined {
  const pmd = (ws as unknown as { _extensions?: Record<string, PerMessageDeflateLike> })._extensions?.[EXTENSION_NAME]
  if (!pmd) return undefined
  return pmd.params?.server_max_window_bits ?? 15
}
