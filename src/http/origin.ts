/**
 * `--allowed-origins`: `*`, or a comma list of origins (`https://app.example`), hosts
 * (`app.example`, `app.example:8443`) and wildcard hosts (`*.example`). Requests without an
 * Origin header (non-browser clients) are always allowed: Origin checks only stop other sites'
 * pages from using a visitor's browser.
 */
export class OriginPolicy {
  readonly any: boolean
  private readonly entries: string[]

  constructor(spec: string) {
    this.entries = spec.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean)
    this.any = this.entries.length === 0 || this.entries.includes('*')
  }

  allows(origin: string | undefined): boolean {
    if (this.any || origin === undefined) return true
    let url: URL
    try {
      url = new URL(origin)
    } catch {
      return false
    }
    const full = url.origin.toLowerCase()
    const host = url.host.toLowerCase()
    const hostname = url.hostname.toLowerCase()
    return this.entries.some((e) => {
      if (e.includes('://')) return e === full
      if (e.startsWith('*.')) return hostname.endsWith(e.slice(1)) || host.endsWith(e.slice(1))
      return e === host || e === hostname
    })
  }

  /** Value for Access-Control-Allow-Origin, or undefined when the origin is not allowed. */
  corsValue(origin: string | undefined): string | undefined {
    if (this.any) return origin ?? '*'
    return origin !== undefined && this.allows(origin) ? origin : undefined
  }
}
