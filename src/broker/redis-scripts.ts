// The Redis broker's Lua scripts. Each runs atomically on the server, so a publication's offset,
// its place in history and its PUBLISH happen as one step (centrifuge's
// broker_history_add_stream.lua does the same), and a history read sees the top and the kept
// messages of one instant.
//
// Keys of one Herald stream (hash-tagged into one slot, see redis-keys.ts):
//   meta  a hash: e = epoch, s = last offset. Outlives the log (--history-meta-ttl), so an idle
//         stream keeps its epoch and a client at the top resumes without a reject_history.
//   log   a Redis Stream, entry id "<offset>-0", fields d = data, t = acceptance time (ms).

/**
 * Drops the log's oldest entries while they are older than the history TTL: XADD's MAXLEN
 * trims by count only. Each entry is dropped once, so this is O(1) per publish on average.
 */
const TRIM_EXPIRED = `
local function trim_expired(log, cutoff)
  while true do
    local first = redis.call('XRANGE', log, '-', '+', 'COUNT', 1)
    if #first == 0 or tonumber(first[1][2][4]) >= cutoff then return first[1] end
    redis.call('XDEL', log, first[1][1])
  end
end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`

/**
 * KEYS: meta, log. ARGV: data, epoch for a new stream, history limit, history TTL (ms), meta
 * TTL (ms), channel. Returns {offset, epoch, at}. PUBLISHes "<offset>:<epoch>:<at>:<data>".
 */
export const PUBLISH_LUA = `${TRIM_EXPIRED}
local meta, log = KEYS[1], KEYS[2]
local data, limit, ttl = ARGV[1], tonumber(ARGV[3]), tonumber(ARGV[4])
local at = now_ms()
local epoch = redis.call('HGET', meta, 'e')
if not epoch then
  epoch = ARGV[2]
  redis.call('HSET', meta, 'e', epoch)
  -- The meta key was lost (expired or evicted) while the log was not: that log is another epoch's.
  redis.call('DEL', log)
end
local offset = redis.call('HINCRBY', meta, 's', 1)
redis.call('PEXPIRE', meta, ARGV[5])
if limit > 0 then
  redis.call('XADD', log, 'MAXLEN', limit, offset .. '-0', 'd', data, 't', at)
  trim_expired(log, at - ttl)
  redis.call('PEXPIRE', log, ttl)
end
redis.call('PUBLISH', ARGV[6], offset .. ':' .. epoch .. ':' .. at .. ':' .. data)
return {offset, epoch, at}
`

/**
 * KEYS: meta, log. ARGV: epoch for a new stream, meta TTL (ms), history TTL (ms), mode ("after",
 * "since" or "top"), after's epoch, after's offset, since (ms), limit (-1 = no limit).
 * Returns {epoch, top, status, offset1, data1, at1, …}; status is "ok", "epoch", "beyond" or
 * "gone". An unknown stream gets its epoch here, so the first publish continues it.
 */
export const HISTORY_LUA = `${TRIM_EXPIRED}
local meta, log = KEYS[1], KEYS[2]
local mode, limit = ARGV[4], tonumber(ARGV[8])
local epoch = redis.call('HGET', meta, 'e')
local top = 0
if not epoch then
  epoch = ARGV[1]
  redis.call('HSET', meta, 'e', epoch, 's', 0)
  redis.call('PEXPIRE', meta, ARGV[2])
  redis.call('DEL', log)
else
  top = tonumber(redis.call('HGET', meta, 's') or '0')
end
local out = {epoch, top, 'ok'}
if mode == 'top' or limit == 0 then
  if mode ~= 'after' then return out end
end
local oldest = trim_expired(log, now_ms() - tonumber(ARGV[3]))
local entries
if mode == 'after' then
  local offset = tonumber(ARGV[6])
  if ARGV[5] ~= epoch then out[3] = 'epoch' return out end
  if offset > top then out[3] = 'beyond' return out end
  if offset < top and (oldest == nil or offset + 1 < tonumber(string.match(oldest[1], '^%d+'))) then
    out[3] = 'gone'
    return out
  end
  if offset == top or limit == 0 then return out end
  if limit > 0 then
    entries = redis.call('XRANGE', log, (offset + 1) .. '-0', '+', 'COUNT', limit)
  else
    entries = redis.call('XRANGE', log, (offset + 1) .. '-0', '+')
  end
else
  entries = redis.call('XRANGE', log, '-', '+')
end
local since = tonumber(ARGV[7])
local n = 0
for _, entry in ipairs(entries) do
  local at = tonumber(entry[2][4])
  if mode == 'after' or at >= since then
    out[#out + 1] = tonumber(string.match(entry[1], '^%d+'))
    out[#out + 1] = entry[2][2]
    out[#out + 1] = at
    n = n + 1
    if limit > 0 and n >= limit then break end
  end
end
return out
`
