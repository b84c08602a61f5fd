import { setTimeout as sleep } from 'node:timers/promises'

/** Polls `check` until it returns a truthy value (returned) or `timeoutMs` passes (throws). Never asserts on timing. */
export async function until<T>(check: () => T | Promise<T>, what = 'condition', timeoutMs = 10_000, everyMs = 10): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value) return value as NonNullable<T>
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(everyMs)
  }
}

/** `promise`, or a rejection naming `what` once `timeoutMs` passes first: a deadline for waits on events. */
export async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs)
  })
  try {
    return await Promise.race([promise, deadline])
  } finally {
    clearTimeout(timer)
  }
}

/** One sample of a Prometheus metric from GET /metrics (0 when absent), e.g. metric(url, 'herald_errors_total', { code: 'X' }). */
export async function metric(baseUrl: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text()
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`)
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!m || m[1] !== name) continue
    const have = m[2] ? m[2].split(/,(?=[a-zA-Z_]\w*=")/) : []
    if (want.every((w) => have.includes(w)) && have.length === want.length) return Number(m[3])
  }
  return 0
}

/** POST JSON (or raw text) and return status plus parsed body. */
export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  const text = await res.text()
  let parsed: unknown = text
  try { parsed = JSON.parse(text) } catch { /* not JSON */ }
  return { status: res.status, body: parsed, headers: res.headers }
}

/** Publishes through POST /_broadcast; resolves with the positions. */
export async function broadcast(baseUrl: string, body: unknown, key?: string): Promise<{ stream: string; offset: number; epoch: string }[]> {
  const res = await postJson(`${baseUrl}/_broadcast`, body, key ? { authorization: `Bearer ${key}` } : {})
  if (res.status !== 201) throw new Error(`broadcast answered ${res.status}: ${JSON.stringify(res.body)}`)
  return res.body
}
