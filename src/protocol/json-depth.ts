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
  // Jump from one structural character to the next with indexOf (native, far quicker than
  // reading every character in JavaScript: a 1,000-publication POST /_broadcast body has too
  // many brackets for the count above and its walk was 6% of the server's time, bench jobs 10k).
  // One cursor per character, each the next position of it where the walk stands (-1: none
  // left), so every cursor only moves forward and the walk stays linear in the text's length.
  const next = (c: string, from: number) => text.indexOf(c, from)
  let brace = next('{', 0)
  let bracket = next('[', 0)
  let braceEnd = next('}', 0)
  let bracketEnd = next(']', 0)
  let quote = next('"', 0)
  let depth = 0
  for (;;) {
    const i = first(first(first(brace, bracket), first(braceEnd, bracketEnd)), quote)
    if (i === -1) return false
    if (i === quote) {
      // A string: its brackets do not count; the walk goes on after its closing quote.
      const end = closingQuote(text, i + 1)
      if (end === -1) return false
      if (brace !== -1 && brace < end) brace = next('{', end + 1)
      if (bracket !== -1 && bracket < end) bracket = next('[', end + 1)
      if (braceEnd !== -1 && braceEnd < end) braceEnd = next('}', end + 1)
      if (bracketEnd !== -1 && bracketEnd < end) bracketEnd = next(']', end + 1)
      quote = next('"', end + 1)
    } else if (i === brace || i === bracket) {
      if (++depth > limit) return true
      if (i === brace) brace = next('{', i + 1)
      else bracket = next('[', i + 1)
    } else {
      depth--
      if (i === braceEnd) braceEnd = next('}', i + 1)
      else bracketEnd = next(']', i + 1)
    }
  }
}

/** The earlier of two positions, -1 (none) being later than any. */
function first(a: number, b: number): number {
  return a === -1 || (b !== -1 && b < a) ? b : a
}

/** The position of the quote that ends a string whose text starts at `from`, or -1 if none does. */
function closingQuote(text: string, from: number): number {
  for (let q = text.indexOf('"', from); q !== -1; q = text.indexOf('"', q + 1)) {
    // Escaped when an odd number of backslashes stands right before it (each pair is one backslash).
    let backslashes = 0
    while (q - backslashes - 1 >= from && text.charCodeAt(q - backslashes - 1) === 0x5c) backslashes++
    if (backslashes % 2 === 0) return q
  }
  return -1
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
