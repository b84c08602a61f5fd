/**
 * Whether JSON text nests arrays and objects deeper than `limit`, found in one pass over the
 * text without parsing it (brackets inside strings do not count). Herald refuses such input
 * before it is parsed or stored: V8's JSON.parse copes with any depth, but JSON.stringify and
 * every recursive walk after it overflow the stack at a few thousand levels, and a job's
 * snapshot is stringified long after the request that stored it.
 */
export function jsonTooDeep(text: string, limit: number): boolean {
  // Each level needs an opening bracket, so text with no more than `limit` of them cannot be too
  // deep: counting them with indexOf (native) costs far less than the walk below, which a
  // typical publication or command then skips (bench jobs: the walk was 3% of the server's time).
  if (openers(text, limit) <= limit) return false
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c /* \ */) i++
      else if (c === 0x22 /* " */) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > limit) return true
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) depth--
  }
  return false
}

/** Opening brackets (`{` and `[`, strings included) in `text`, counted up to `cap + 1`. */
function openers(text: string, cap: number): number {
  let n = 0
  for (let i = text.indexOf('{'); i !== -1 && n <= cap; i = text.indexOf('{', i + 1)) n++
  for (let i = text.indexOf('['); i !== -1 && n <= cap; i = text.indexOf('[', i + 1)) n++
  return n
}

/** The default `--max-json-depth`: far deeper than any progress event, far shallower than a stack overflow. */
export const DEFAULT_MAX_JSON_DEPTH = 64

/**
 * Whether a JavaScript value (about to be stored as JSON) nests arrays and objects deeper than
 * `limit`: an explicit stack, so a value deep enough to overflow JSON.stringify is measured safely.
 */
export function valueTooDeep(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 0]]
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!
    if (typeof v !== 'object' || v === null) continue
    if (depth + 1 > limit) return true
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1])
    }
  }
  return false
}
