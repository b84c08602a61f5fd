import { createRequire } from 'node:module'
import type { WebSocket } from 'ws'

/** The parts of ws's CommonJS entry that its ESM wrapper leaves out. */
interface PerMessageDeflateLike {
  readonly params: { server_max_window_bits?: number; server_no_context_takeover?: boolean } | null
  accept(offers: unknown[]): Record<string, unknown>
}
interface WsStatics {
  PerMessageDeflate: { new (options: Record<string, unknown>): PerMessageDeflateLike; extensionName: string }
  extension: { parse(header: string): Record<string, Record<string, unknown>[]>; format(extensions: Record<string, unknown[]>): string }
}
const { PerMessageDeflate, extension } = createRequire(import.meta.url)('ws') as WsStatics

export const EXTENSION_NAME = PerMessageDeflate.extensionName

/**
 * ws's PerMessageDeflate options for Herald (`--ws-compression`). The client's offer is honoured
 * as it stands (server_no_context_takeover, server_max_window_bits, client_no_context_takeover,
 * client_max_window_bits). Without server_no_context_takeover (browsers do not ask for it) Herald
 * compresses a broadcast against the previous one of its stream (framing/ws-deflate.ts); with it,
 * each broadcast on its own. Either way one compressed frame serves every subscriber in the same
 * state. Herald never sends data through ws, so only ws's inflate side (client messages) runs,
 * under maxPayload.
 */
// Empty: ws then takes either answer to server_no_context_takeover (`false` would refuse offers that ask for it).
export const DEFLATE_OPTIONS = Object.freeze({})

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
  // Numerically: ws reads `08` as 8 too.
  const usable = offers.filter((o) => !(o.server_max_window_bits as unknown[] | undefined)?.some((bits) => Number(bits) === 8))
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

/** What a WebSocket's client accepted of Herald's compressor; undefined when uncompressed. */
export interface DeflateParams {
  /** The compressor's window: 15 unless the client asked for less. */
  windowBits: number
  /** May a message refer back to earlier ones (no server_no_context_takeover)? */
  contextTakeover: boolean
}

export function deflateParams(ws: WebSocket): DeflateParams | undefined {
  const pmd = (ws as unknown as { _extensions?: Record<string, PerMessageDeflateLike> })._extensions?.[EXTENSION_NAME]
  if (!pmd) return undefined
  return { windowBits: pmd.params?.server_max_window_bits ?? 15, contextTakeover: pmd.params?.server_no_context_takeover !== true }
}
