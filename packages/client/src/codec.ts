/** Where a message sits in its stream; Herald resumes a stream right after one of these. */
export interface Position {
  stream: string
  /** One life of the stream's history; a position from another epoch is never replayed from. */
  epoch: string
  /** Counts from 1 per stream. */
  offset: number
}

/** One reply of AnyCable's extended Action Cable protocol, whichever wire carried it. */
export interface Reply {
  type?: string
  identifier?: string
  message?: any
  stream_id?: string
  epoch?: string
  offset?: number
  sid?: string
  restored_ids?: string[]
  reason?: string
  reconnect?: boolean
}

export const PROTOCOL = 'actioncable-v1-ext-json'

/** The `$pubsub` channel identifier of a public (`stream_name`) or signed (`signed_stream_name`) stream. */
export const pubsub = (key: 'stream_name' | 'signed_stream_name', name: string): string =>
  JSON.stringify({ channel: '$pubsub', [key]: name })

/** One client command as JSON text (`history` is left out when undefined). */
export const command = (command: string, identifier: string, history?: object): string =>
  JSON.stringify({ command, identifier, history })

/** Calls `line` for each non-empty line of a streamed body, however its chunks split the lines. */
export async function readLines(body: ReadableStream<Uint8Array>, line: (text: string) => void): Promise<void> {
  const reader = body.getReader()
  const decoder = new TextDecoder()
  let rest = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return
    const parts = (rest + decoder.decode(value, { stream: true })).split('\n')
    rest = parts.pop()!
    for (const p of parts) if (p.trim()) line(p)
  }
}
