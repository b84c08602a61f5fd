import fc from 'fast-check'

/**
 * How every property test here runs: a fixed seed (a failure is the same failure on every
 * machine; fast-check prints the counterexample and its path), and a bounded number of runs so
 * each file takes a few seconds. `FC_SEED`/`FC_RUNS` override them to explore further.
 */
export const RUNS: fc.Parameters<unknown> = {
  seed: Number(process.env.FC_SEED ?? 13013),
  numRuns: Number(process.env.FC_RUNS ?? 400),
  endOnFailure: true,
}

/** Text as it may arrive from outside: any UTF-16 (lone surrogates included), bounded. */
export const anyText = (maxLength = 200) => fc.string({ unit: 'binary', maxLength })

/** Strings built from the characters a parser cares about, so they hit its branches more often. */
export const syntaxText = (alphabet: string[], maxLength = 120) =>
  fc.array(fc.oneof(fc.constantFrom(...alphabet), fc.string({ unit: 'binary', maxLength: 3 })), { maxLength }).map((parts) => parts.join(''))

/** Runs `fn`; a throw is returned (not thrown) so a property can check its type. */
export function outcome<T>(fn: () => T): { ok: true; value: T } | { ok: false; err: unknown } {
  try {
    return { ok: true, value: fn() }
  } catch (err) {
    return { ok: false, err }
  }
}
