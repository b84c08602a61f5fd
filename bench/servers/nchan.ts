import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { BENCH_TMP, freePort, httpGet, splitTransport, stopChild, track, waitForPort, withChildren, type BenchTransport, type RunningServer, type ServerAdapter } from './server.js'

const NGINX = '/usr/sbin/nginx'
const MODULE = '/usr/lib/nginx/modules/ngx_nchan_module.so'
const POLICY = '/usr/sbin/policy-rc.d'

/** Installs Debian's nginx-light + libnginx-mod-nchan when missing, without starting the system nginx. */
function ensureInstalled(): string | undefined {
  if (existsSync(NGINX) && existsSync(MODULE)) return undefined
  process.stderr.write('nchan: installing nginx-light and libnginx-mod-nchan with apt-get\n')
  // policy-rc.d exit 101 stops the package from starting the system nginx on port 80.
  const ownPolicy = !existsSync(POLICY)
  try {
    if (ownPolicy) writeFileSync(POLICY, '#!/bin/sh\nexit 101\n', { mode: 0o755 })
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' })
    execFileSync('apt-get', ['install', '-y', '-qq', 'libnginx-mod-nchan', 'nginx-light'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
  } catch (err) {
    return `apt-get install failed: ${(err as Error).message}`
  } finally {
    if (ownPolicy) rmSync(POLICY, { force: true })
  }
  return existsSync(NGINX) && existsSync(MODULE) ? undefined : 'nginx or the nchan module is still missing after apt-get'
}

/** A private nginx: own prefix, config, PID file and port; one worker (a second gave no gain on 2 cores). */
function config(prefix: string, port: number, h2Port: number): string {
  return `load_module ${MODULE};
daemon off;
worker_processes 1;
worker_rlimit_nofile 20000;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log error;
events { worker_connections 19500; multi_accept on; }
http {
  access_log off;
  client_body_temp_path ${prefix}/tmp/body;
  proxy_temp_path ${prefix}/tmp/proxy;
  fastcgi_temp_path ${prefix}/tmp/fastcgi;
  uwsgi_temp_path ${prefix}/tmp/uwsgi;
  scgi_temp_path ${prefix}/tmp/scgi;
  nchan_message_buffer_length 100;
  nchan_message_timeout 300s;
  server {
    listen 127.0.0.1:${port} backlog=4096;
    # h2c with prior knowledge: SSE, raw stream and long-poll over HTTP/2 (nginx has no RFC 8441 WebSocket).
    listen 127.0.0.1:${h2Port} http2 backlog=4096;
    location ~ ^/pub/(.+)$ { nchan_publisher; nchan_channel_id $1; }
    location ~ ^/sub/(.+)$ { nchan_subscriber; nchan_channel_id $1; nchan_subscriber_first_message newest; }
    location ~ ^/raw/(.+)$ { nchan_subscriber http-raw-stream; nchan_channel_id $1; nchan_subscriber_first_message newest; }
    location = /nchan_status { nchan_stub_status; }
  }
}
`
}

export const nchan: ServerAdapter = {
  name: 'nchan',
  transports: (): BenchTransport[] => ['ws', 'sse', 'ndjson', 'long-poll', 'sse-h2', 'ndjson-h2', 'long-poll-h2'],
  prepare: async () => ensureInstalled(),
  async start(): Promise<RunningServer> {
    const port = await freePort()
    const h2Port = await freePort()
    const prefix = `${BENCH_TMP}/nginx-${port}`
    mkdirSync(`${prefix}/tmp`, { recursive: true })
    writeFileSync(`${prefix}/nginx.conf`, config(prefix, port, h2Port))
    const child = track(spawn(NGINX, ['-p', prefix, '-c', `${prefix}/nginx.conf`], { stdio: ['ignore', 'ignore', 'inherit'] }))
    await waitForPort(port, child)
    return {
      pids: () => withChildren(child.pid),
      client(t) {
        const { base, h2 } = splitTransport(t)
        const on = h2 ? { port: h2Port, h2 } : { port }
        switch (base) {
          case 'ws': return { proto: 'ws', ...on, path: '/sub/{stream}' }
          case 'sse': return { proto: 'http-stream', ...on, path: '/sub/{stream}', headers: { Accept: 'text/event-stream' } }
          // nchan has no NDJSON; its newline-separated raw stream is the same wire shape.
          case 'ndjson': return { proto: 'http-stream', ...on, path: '/raw/{stream}' }
          case 'long-poll': return { proto: 'long-poll', ...on, path: '/sub/{stream}', cursor: 'nchan' }
        }
      },
      publish: {
        port,
        maxBatch: 1,
        request(list) {
          const { stream, payload } = list[0]
          return `POST /pub/${encodeURIComponent(stream)} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`
        },
      },
      async subscribers() {
        const m = /subscribers:\s*(\d+)/.exec(await httpGet(port, '/nchan_status'))
        return m ? Number(m[1]) : 0
      },
      heapUsed: async () => undefined,
      stop: () => stopChild(child),
    }
  },
}
