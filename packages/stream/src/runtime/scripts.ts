// Lua scripts of the Redis state store. Each runs atomically in Redis: a state update and the input
// offset it consumed are written together, so a crash can never leave one without the other
// (see ../memory-store.ts for the same rules in memory). Every window key shares the processor's hash tag `{name}`.

/**
 * CLAIM: called when this instance starts reading a partition. Bumps the partition's epoch (so a
 * stale owner's next APPLY is fenced) and returns it with the last applied offset.
 * KEYS: epochHash, offsetHash. ARGV: tp. Returns {epoch, lastOffset or ''}.
 */
export const CLAIM = `
local e = redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
local o = redis.call('HGET', KEYS[2], ARGV[1])
return {tostring(e), o or ''}
`;

/**
 * APPLY: writes the new states of the windows touched by a chunk of records, adds their event ids
 * to the dedupe sets and stores the chunk's last offset, or writes nothing and says why:
 * - {'fenced', epoch}: another instance claimed the partition since;
 * - {'stale', offset}: the chunk starts at or before the stored offset (a replay);
 * - {'behind', offset}: the stored offset is not the one the writer last applied (`prevOffset`,
 *   '' for none): Redis lost its latest writes (a crash with the AOF tail not yet on disk), so the
 *   records after the stored offset must be applied again before this chunk;
 * - {'conflict', {windowKeys}, {windowKey\\nid}}: a window changed since it was read (another
 *   partition's writer, or the emitter closed it), or an event id is already counted.
 * KEYS: offsetHash, epochHash, streamTimeHash, wallHash, openZset, dirtySet.
 * ARGV: tp, epoch, firstOffset, lastOffset, chunkMaxEventTime, wallNow, ttlMs, windowPrefix,
 *       idsPrefix, graceMs, prevOffset, nWindows, then per window: wk, expectedVersion, stateJson,
 *       groupJson, windowStart, windowEnd, nIds, ids...
 */
export const APPLY = `
local tp = ARGV[1]
local ep = redis.call('HGET', KEYS[2], tp)
if ep ~= ARGV[2] then return {'fenced', ep or ''} end
local stored = redis.call('HGET', KEYS[1], tp)
if stored and tonumber(stored) >= tonumber(ARGV[3]) then return {'stale', stored} end
if (stored or '') ~= ARGV[11] then return {'behind', stored or ''} end
local n = tonumber(ARGV[12])
local i = 13
local conflicts = {}
local dups = {}
local starts = {}
for w = 1, n do
  local wk = ARGV[i]
  local nids = tonumber(ARGV[i + 6])
  local ver = redis.call('HGET', ARGV[8] .. wk, 'v') or '0'
  if ver ~= ARGV[i + 1] then conflicts[#conflicts + 1] = wk end
  if nids > 0 then
    local m = redis.call('SMISMEMBER', ARGV[9] .. wk, unpack(ARGV, i + 7, i + 6 + nids))
    for j = 1, nids do
      if m[j] == 1 then dups[#dups + 1] = wk .. '\\n' .. ARGV[i + 6 + j] end
    end
  end
  starts[w] = i
  i = i + 7 + nids
end
if #conflicts > 0 or #dups > 0 then return {'conflict', conflicts, dups} end
local ttl = ARGV[7]
for w = 1, n do
  local j = starts[w]
  local wk = ARGV[j]
  local key = ARGV[8] .. wk
  local nids = tonumber(ARGV[j + 6])
  redis.call('HINCRBY', key, 'v', 1)
  redis.call('HSET', key, 's', ARGV[j + 2], 'g', ARGV[j + 3], 'ws', ARGV[j + 4], 'we', ARGV[j + 5])
  redis.call('HSETNX', key, 'r', '-1')
  if redis.call('HGET', key, 'c') == '1' then
    redis.call('SADD', KEYS[6], wk)
  else
    redis.call('ZADD', KEYS[5], tonumber(ARGV[j + 5]) + tonumber(ARGV[10]), wk)
  end
  redis.call('PEXPIRE', key, ttl)
  if nids > 0 then
    local ids = ARGV[9] .. wk
    redis.call('SADD', ids, unpack(ARGV, j + 7, j + 6 + nids))
    redis.call('PEXPIRE', ids, ttl)
  end
end
redis.call('HSET', KEYS[1], tp, ARGV[4])
local st = redis.call('HGET', KEYS[3], tp)
if (not st) or tonumber(ARGV[5]) > tonumber(st) then redis.call('HSET', KEYS[3], tp, ARGV[5]) end
redis.call('HSET', KEYS[4], tp, ARGV[6])
return {'ok'}
`;

/**
 * ADVANCE: stores a chunk's offset when it touched no window (all filtered, dead-lettered or routed
 * late), with the same fencing, replay and loss checks as APPLY.
 * KEYS: offsetHash, epochHash, streamTimeHash, wallHash.
 * ARGV: tp, epoch, firstOffset, lastOffset, maxEventTime, wallNow, prevOffset.
 */
export const ADVANCE = `
local tp = ARGV[1]
local ep = redis.call('HGET', KEYS[2], tp)
if ep ~= ARGV[2] then return {'fenced', ep or ''} end
local stored = redis.call('HGET', KEYS[1], tp)
if stored and tonumber(stored) >= tonumber(ARGV[3]) then return {'stale', stored} end
if (stored or '') ~= ARGV[7] then return {'behind', stored or ''} end
redis.call('HSET', KEYS[1], tp, ARGV[4])
if ARGV[5] ~= '' then
  local st = redis.call('HGET', KEYS[3], tp)
  if (not st) or tonumber(ARGV[5]) > tonumber(st) then redis.call('HSET', KEYS[3], tp, ARGV[5]) end
end
redis.call('HSET', KEYS[4], tp, ARGV[6])
return {'ok'}
`;

/**
 * ANNOUNCE: an instance queued records of a partition up to an offset (fetched, not applied yet).
 * Until the offset stored with the state reaches it, the partition is behind: it holds the watermark
 * (window-store.ts, watermarkOf) whether or not it was applied recently. Otherwise the partitions
 * applied first run the watermark past windows the queued records still fill (bench:stream with
 * gzip: one 1 MiB fetch is ~17 h of a partition's event time). Keeps the highest offset announced.
 * KEYS: queuedHash. ARGV: tp, lastQueuedOffset.
 */
export const ANNOUNCE = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if (not cur) or tonumber(ARGV[2]) > tonumber(cur) then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 1
`;

/**
 * CLOSE: moves the windows whose end + grace is at or before the watermark from the open set to the
 * closing set and marks them closed (bumping their version, so a writer holding an older copy must
 * re-read and see it closed). They stay in the closing set until Kafka acknowledged their result
 * (ACK): a crash in between re-emits them with the same key and revision.
 * KEYS: openZset, closingSet. ARGV: maxScore ('+inf' flushes all), limit, windowPrefix. Returns the count.
 */
export const CLOSE = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, wk in ipairs(due) do
  local key = ARGV[3] .. wk
  if redis.call('HGET', key, 'c') ~= '1' then
    redis.call('HSET', key, 'c', '1')
    redis.call('HINCRBY', key, 'v', 1)
  end
  redis.call('ZREM', KEYS[1], wk)
  redis.call('SADD', KEYS[2], wk)
end
return #due
`;

/**
 * ACK: after Kafka acknowledged the result of a window at a revision, records the revision and takes
 * the window off the closing set; it stays dirty when it changed after it was read (a late record).
 * KEYS: closingSet, dirtySet. ARGV: windowPrefix, then triples wk, readVersion, revision.
 */
export const ACK = `
for i = 2, #ARGV, 3 do
  local wk = ARGV[i]
  local key = ARGV[1] .. wk
  local r = tonumber(redis.call('HGET', key, 'r') or '-1')
  if tonumber(ARGV[i + 2]) > r then redis.call('HSET', key, 'r', ARGV[i + 2]) end
  redis.call('SREM', KEYS[1], wk)
  if (redis.call('HGET', key, 'v') or '0') == ARGV[i + 1] then
    redis.call('SREM', KEYS[2], wk)
  else
    redis.call('SADD', KEYS[2], wk)
  end
end
return 'ok'
`;

/**
 * LOCK: takes or renews the emitter lock (one emitting instance per processor at a time).
 * KEYS: lockKey. ARGV: owner, ttlMs. Returns 1 when held by `owner`.
 */
export const LOCK = `
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not cur then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0
`;

/** UNLOCK: releases the emitter lock if held by `owner`. KEYS: lockKey. ARGV: owner. */
export const UNLOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
`;
