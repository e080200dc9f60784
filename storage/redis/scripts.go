package redis

import goredis "github.com/redis/go-redis/v9"

// The Lua scripts of the store. Each write is one script, so it is atomic
// across every process that uses the store (see the package doc). go-redis
// sends a script by its hash and falls back to its text when the server does
// not know it yet. Writing scripts check everything before their first
// write. Numbers travel as decimal strings; string.format('%d') keeps Lua
// from writing a large revision in exponent notation.

// release frees the unique keys that id claimed, unless another record took
// them over since (Apply lets the last writer have a key), and forgets the
// claim.
const release = `
local function release(claimed, uniq, id)
  local held = redis.call('HGET', claimed, id)
  if not held then return end
  for _, k in ipairs(cjson.decode(held)) do
    if redis.call('HGET', uniq, k) == id then redis.call('HDEL', uniq, k) end
  end
  redis.call('HDEL', claimed, id)
end

local function claim(claimed, uniq, id, ks)
  if #ks == 0 then return end
  for _, k in ipairs(ks) do redis.call('HSET', uniq, k, id) end
  redis.call('HSET', claimed, id, cjson.encode(ks))
end
`

// initScript makes the format and epoch of a new store and returns those of
// the store. KEYS: meta. ARGV: format, a new epoch.
var initScript = goredis.NewScript(`#!lua
redis.call('HSETNX', KEYS[1], 'format', ARGV[1])
redis.call('HSETNX', KEYS[1], 'epoch', ARGV[2])
local v = redis.call('HMGET', KEYS[1], 'format', 'epoch')
return {v[1] or '', v[2] or ''}
`)

// putScript writes a record at the next revision. KEYS: meta, feed, tombs,
// and the rec, keys and uniq hashes of the record's kind. ARGV: id, feed
// member, the expected revision ("0": the record must not exist), the JSON
// before the revision, the JSON after it, then the record's unique keys.
// It returns {"ok", revision}, {"exists"}, {"missing"}, {"changed", stored
// revision} or {"taken", key}.
var putScript = goredis.NewScript(`#!lua
` + release + `
local meta, feed, tombs, rec, claimed, uniq = unpack(KEYS)
local id, member, want = ARGV[1], ARGV[2], ARGV[3]
local cur = redis.call('HGET', rec, id)
if want == '0' then
  if cur then return {'exists'} end
elseif not cur then
  return {'missing'}
else
  local have = string.match(cur, '^(%-?%d+) ')
  if have ~= want then return {'changed', have} end
end
local ks = {}
for i = 6, #ARGV do
  local holder = redis.call('HGET', uniq, ARGV[i])
  if holder and holder ~= id then return {'taken', ARGV[i]} end
  ks[#ks + 1] = ARGV[i]
end
release(claimed, uniq, id)
local rev = string.format('%d', redis.call('HINCRBY', meta, 'revision', 1))
redis.call('HSET', rec, id, rev .. ' ' .. ARGV[4] .. rev .. ARGV[5])
claim(claimed, uniq, id, ks)
redis.call('ZADD', feed, rev, member)
redis.call('ZREM', tombs, member)
return {'ok', rev}
`)

// deleteScript removes a record and leaves a tombstone at the next
// revision, which it returns; 0 when there is no such record. KEYS as for
// putScript. ARGV: id, feed member.
var deleteScript = goredis.NewScript(`#!lua
` + release + `
local meta, feed, tombs, rec, claimed, uniq = unpack(KEYS)
local id, member = ARGV[1], ARGV[2]
if redis.call('HEXISTS', rec, id) == 0 then return 0 end
release(claimed, uniq, id)
redis.call('HDEL', rec, id)
local rev = redis.call('HINCRBY', meta, 'revision', 1)
redis.call('ZADD', feed, rev, member)
redis.call('ZADD', tombs, rev, member)
return rev
`)

// lookupScript returns {id, stored record} of the record holding a unique
// key, or nil. KEYS: the rec and uniq hashes of the kind. ARGV: the key.
var lookupScript = goredis.NewScript(`#!lua flags=no-writes
local id = redis.call('HGET', KEYS[2], ARGV[1])
if not id then return false end
local v = redis.call('HGET', KEYS[1], id)
if not v then return false end
return {id, v}
`)

// changesScript reads the feed after a revision: for each entry its member,
// its score and the stored record, or nil for a tombstone, or "" for a
// record that is gone. KEYS: feed, tombs, then the rec hash of each kind.
// ARGV: after, limit ("0": none), then the kinds in the order of KEYS.
var changesScript = goredis.NewScript(`#!lua flags=no-writes
local recs = {}
for i = 3, #ARGV do recs[ARGV[i]] = KEYS[i] end
local entries
if ARGV[2] == '0' then
  entries = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf', 'WITHSCORES')
else
  entries = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf', 'WITHSCORES', 'LIMIT', 0, ARGV[2])
end
local out = {}
for i = 1, #entries, 2 do
  local member, score = entries[i], entries[i + 1]
  local v = false
  if not redis.call('ZSCORE', KEYS[2], member) then
    local slash = string.find(member, '/', 1, true)
    v = redis.call('HGET', recs[string.sub(member, 1, slash - 1)], string.sub(member, slash + 1)) or ''
  end
  out[#out + 1] = member
  out[#out + 1] = score
  out[#out + 1] = v
end
return out
`)

// compactScript raises the horizon to min(upTo, revision) unless it is
// higher already, then drops up to chunk tombstones at or below the
// horizon; it returns how many it dropped. KEYS: meta, feed, tombs. ARGV:
// upTo, chunk.
var compactScript = goredis.NewScript(`#!lua
local meta, feed, tombs = unpack(KEYS)
local rev = tonumber(redis.call('HGET', meta, 'revision') or '0')
local horizon = tonumber(redis.call('HGET', meta, 'horizon') or '0')
local upTo = math.min(tonumber(ARGV[1]), rev)
if upTo > horizon then
  horizon = upTo
  redis.call('HSET', meta, 'horizon', string.format('%d', horizon))
end
local gone = redis.call('ZRANGEBYSCORE', tombs, '-inf', string.format('%d', horizon), 'LIMIT', 0, ARGV[2])
for _, m in ipairs(gone) do
  redis.call('ZREM', feed, m)
  redis.call('ZREM', tombs, m)
end
return #gone
`)

// applyScript writes a batch from an origin: each change in order, then
// the replica state. KEYS: meta, feed, tombs, then the rec, keys and uniq
// hashes of each kind. ARGV: epoch, applied, the number of kinds n, the n
// kinds in the order of KEYS, then per change: kind, id, revision, "1" for
// a tombstone or "0", the JSON, the number of unique keys m, the m keys.
var applyScript = goredis.NewScript(`#!lua
` + release + `
local meta, feed, tombs = KEYS[1], KEYS[2], KEYS[3]
local n = tonumber(ARGV[3])
local first = {}
for i = 1, n do first[ARGV[3 + i]] = 3 * i + 1 end
local a = 4 + n
while a <= #ARGV do
  local kind, id, rev, deleted, data = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  local m = tonumber(ARGV[a + 5])
  local k = first[kind]
  local rec, claimed, uniq = KEYS[k], KEYS[k + 1], KEYS[k + 2]
  local member = kind .. '/' .. id
  release(claimed, uniq, id)
  redis.call('ZREM', feed, member)
  redis.call('ZREM', tombs, member)
  if deleted == '1' then
    redis.call('HDEL', rec, id)
  else
    redis.call('HSET', rec, id, rev .. ' ' .. data)
    local ks = {}
    for j = 1, m do ks[j] = ARGV[a + 5 + j] end
    claim(claimed, uniq, id, ks)
  end
  a = a + 6 + m
end
redis.call('HSET', meta, 'replica_epoch', ARGV[1], 'replica_applied', ARGV[2])
return 1
`)

// txScript writes the writes of a transaction (see Update) in order, each
// at the next revision, and returns their revisions. It checks nothing:
// Update checked the writes against what it read, and the EXEC around the
// script runs only if none of that changed. KEYS: meta, feed, tombs, then
// the rec, keys and uniq hashes of each kind. ARGV: the number of kinds n,
// the n kinds in the order of KEYS, then per write: kind, id, "1" for a
// delete or "0", the JSON before the revision, the JSON after it, the
// number of unique keys m, the m keys.
var txScript = goredis.NewScript(`#!lua
` + release + `
local meta, feed, tombs = KEYS[1], KEYS[2], KEYS[3]
local n = tonumber(ARGV[1])
local first = {}
for i = 1, n do first[ARGV[1 + i]] = 3 * i + 1 end
local revs = {}
local a = 2 + n
while a <= #ARGV do
  local kind, id, deleted, head, tail = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  local m = tonumber(ARGV[a + 5])
  local k = first[kind]
  local rec, claimed, uniq = KEYS[k], KEYS[k + 1], KEYS[k + 2]
  local member = kind .. '/' .. id
  release(claimed, uniq, id)
  local rev = string.format('%d', redis.call('HINCRBY', meta, 'revision', 1))
  redis.call('ZADD', feed, rev, member)
  if deleted == '1' then
    redis.call('HDEL', rec, id)
    redis.call('ZADD', tombs, rev, member)
  else
    redis.call('HSET', rec, id, rev .. ' ' .. head .. rev .. tail)
    local ks = {}
    for j = 1, m do ks[j] = ARGV[a + 5 + j] end
    claim(claimed, uniq, id, ks)
    redis.call('ZREM', tombs, member)
  end
  revs[#revs + 1] = rev
  a = a + 6 + m
end
return revs
`)
