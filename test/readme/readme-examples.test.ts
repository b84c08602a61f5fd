import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { startHerald, type TestHerald } from '../support/herald.js'
import { postJson } from '../support/util.js'

// README, "Streams and publishing" and "Transports": every curl line runs as written (through
// bash, as a reader would paste it) against a Herald started as the README says, on port 0
// instead of 8080. Under plain `npm start` the chat/1 lines are refused with the reason the README
// gives; with --public-streams each one answers with what its comment promises.

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')

/** The curl commands of the README's ```sh block that follows `heading`, continuation lines joined. */
function curlLines(heading: string): string[] {
  const section = README.slice(README.indexOf(heading))
  const block = /```sh\n([\s\S]*?)```/.exec(section)![1]
  return block.replace(/\\\n\s*/g, '').split('\n').filter((l) => l.startsWith('curl '))
}

/** Runs one README line with its URL pointed at `h`; resolves with what curl printed (headers too for -i). */
function run(h: TestHerald, line: string, vars: Record<string, string> = {}): Promise<string> {
  let cmd = line.replaceAll('localhost:8080', h.url.replace('http://', ''))
  for (const [k, v] of Object.entries(vars)) cmd = cmd.replaceAll(k, v)
  // -N lines stream until stopped: a 2 s limit ends them (curl exit 28) after what they had to say.
  return new Promise((resolve) => execFile('bash', ['-c', `${cmd.replace(/^curl /, 'curl -sS -m 2 ')}`], (_err, stdout) => resolve(stdout)))
}

const PUBLISH = curlLines('## Streams and publishing')
const TRANSPORTS = curlLines('## Transports')

test('the README has the lines this test runs', () => {
  assert.equal(PUBLISH.length, 1)
  assert.ok(TRANSPORTS.length >= 9, TRANSPORTS.join('\n'))
})

test('under npm start (no --public-streams): the publish line works; the chat/1 lines are refused saying which flag they need', async () => {
  const h = await startHerald({})
  try {
    assert.match(await run(h, PUBLISH[0]), /^\[\{"stream":"chat\/1","offset":1,/)
    for (const line of TRANSPORTS.filter((l) => l.includes('chat/1'))) {
      assert.match(await run(h, line), /public streams are disabled \(--public-streams\)/, line)
    }
  } finally {
    await h.close()
  }
})

/** What each Transports line's comment promises, by a piece of the line. */
const PROMISES: [string, RegExp][] = [
  ['/jobs/<id>/events', /data: \{"type":"snapshot","job":/],
  ["'localhost:8080/events?stream=chat/1'", /event: confirm_subscription/],
  ['/events -d', /event: confirm_subscription/],
  ['/jobs/<id>/stream', /^\{"message":\{"type":"snapshot"/],
  ['after=3&epoch=', /"stream_id":"chat\/1","epoch":"[^"]+","offset":4\}/],
  ['/stream -d', /"type":"confirm_subscription"/],
  ['/lp -d', /x-anycable-poll-id: \S+[\s\S]*"type":"confirm_subscription"/i],
  ['X-Anycable-Poll-ID', /^HTTP\/1\.1 200[\s\S]*"message":\{"text":"polled"\}/],
  ['/poll?after=0', /^HTTP\/1\.1 200[\s\S]*"events":\[/],
]

test('with --public-streams every Transports line answers as its comment says', async () => {
  const h = await startHerald({ publicStreams: true })
  try {
    const job = (await postJson(`${h.url}/jobs`, { type: 'demo', input: { steps: 3, delayMs: 200 } })).body
    await run(h, PUBLISH[0]) // offsets 1 and 2
    await postJson(`${h.url}/_broadcast`, { stream: 'chat/1', data: '{"text":"third"}' })
    const epoch = (await postJson(`${h.url}/_broadcast`, { stream: 'chat/1', data: '{"text":"fourth"}' })).body[0].epoch
    let pollId = ''
    const checked = new Set<string>()
    for (const line of TRANSPORTS) {
      const isPoll = line.includes('X-Anycable-Poll-ID')
      // Something queued for the session, so its poll answers at once.
      if (isPoll) await postJson(`${h.url}/_broadcast`, { stream: 'chat/1', data: '{"text":"polled"}' })
      const out = await run(h, line, isPoll ? { '<id>': pollId } : { '<id>': job.id, Ab1c: epoch })
      assert.doesNotMatch(out, /"error"|HTTP\/1\.1 [45]\d\d/, `${line}\n${out}`)
      const promise = PROMISES.find(([piece]) => line.includes(piece))
      assert.ok(promise, `no promise for ${line}`)
      assert.match(out, promise[1], `${line}\n${out.slice(0, 600)}`)
      checked.add(promise[0])
      if (line.includes('/lp -d')) pollId = /x-anycable-poll-id: (\S+)/i.exec(out)![1]
    }
    assert.equal(checked.size, PROMISES.length)
  } finally {
    await h.close()
  }
})
