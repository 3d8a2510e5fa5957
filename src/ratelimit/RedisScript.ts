/**
 * The one Lua script behind the Redis backend: every operation on a key (consume across all tiers, status,
 * penalty/reward, FIFO simulation) is a single atomic `EVALSHA`, so concurrent processes can never
 * interleave between "all tiers admit" and "all tiers consume". It mirrors `TierState.ts` line for line
 * (same tier codes, same epsilon, same rounding), so memory and Redis answer identically.
 *
 * Layout (hash tag `{key}` keeps a key's data in one cluster slot):
 * - `<prefix>{<key>}`: a hash with `<tier>:a`, `<tier>:b` (the two numbers of `TierState`) and `s`
 *   (a sequence number for sliding-log members); `PEXPIRE` = time until every tier is full again, and the
 *   hash is deleted when the state is back to fresh — Redis memory follows active keys.
 * - `<prefix>{<key>}:<tier>`: a sorted set per sliding-window tier (score = time, member = `cost:seq`),
 *   `PEXPIRE` = window. Expired entries are removed with `ZREMRANGEBYSCORE` on each call (amortised O(1));
 *   the whole log is read only to compute a refusal's `retryAfter` or a simulation.
 *
 * Clock: `ARGV[2]` is the caller's `Clock` time in ms (default), or `server` to use Redis `TIME`. See the
 * module doc of `RedisBackend.ts` for why the caller's clock is the default.
 *
 * Reuses Effect's `Redis.script` descriptor; `Redis.eval` loads it with `SCRIPT LOAD`, runs it with
 * `EVALSHA` and reloads it on `NOSCRIPT` (Effect's Redis service already does this).
 */
import { Redis } from "effect/persistence"

export const LUA = `
local op = ARGV[1]
local now = tonumber(ARGV[2])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local cost = tonumber(ARGV[3])
local n = tonumber(ARGV[4])
local EPS = 1e-9
local INF = math.huge
local hkey = KEYS[1]

local function fmt(x)
  if x == INF then return 'inf' end
  return string.format('%.17g', x)
end
local function ceilms(x)
  if x <= 0 then return 0 end
  return math.ceil(x - 1e-6)
end

local fields = {}
for i = 1, n do
  local name = ARGV[4 + (i - 1) * 5 + 2]
  fields[#fields + 1] = name .. ':a'
  fields[#fields + 1] = name .. ':b'
end
fields[#fields + 1] = 's'
local vals = redis.call('HMGET', hkey, unpack(fields))
local seq = tonumber(vals[2 * n + 1]) or 0

local tiers = {}
local zi = 2
for i = 1, n do
  local base = 4 + (i - 1) * 5
  local t = { kind = tonumber(ARGV[base + 1]), name = ARGV[base + 2], limit = tonumber(ARGV[base + 3]),
    period = tonumber(ARGV[base + 4]), refill = tonumber(ARGV[base + 5]) }
  local a = tonumber(vals[2 * i - 1])
  local b = tonumber(vals[2 * i])
  if a == nil or b == nil then
    if t.kind == 0 then a = t.limit; b = now
    elseif t.kind == 1 then a = t.limit; b = math.floor(now / t.period)
    elseif t.kind == 2 then a = math.floor(now / t.period); b = 0
    else a = 0; b = 0 end
  end
  if t.kind == 3 then t.zkey = KEYS[zi]; zi = zi + 1 end
  t.a = a
  t.b = b
  tiers[i] = t
end

local function loadLog(t)
  local r = redis.call('ZRANGE', t.zkey, 0, -1, 'WITHSCORES')
  t.times = {}
  t.costs = {}
  t.head = 1
  for j = 1, #r, 2 do
    t.costs[#t.costs + 1] = tonumber(string.match(r[j], '^([^:]+)'))
    t.times[#t.times + 1] = tonumber(r[j + 1])
  end
end

local function refill(t, at)
  if t.kind == 0 then
    if at > t.b then
      local tok = t.a + (at - t.b) * t.refill / t.period
      if tok > t.limit then tok = t.limit end
      t.a = tok
      t.b = at
    end
  elseif t.kind == 1 then
    local tick = math.floor(at / t.period)
    if tick > t.b then
      local tok = t.a + (tick - t.b) * t.refill
      if tok > t.limit then tok = t.limit end
      t.a = tok
      t.b = tick
    end
  elseif t.kind == 2 then
    local idx = math.floor(at / t.period)
    if idx ~= t.a then t.a = idx; t.b = 0 end
  else
    local cutoff = at - t.period
    if t.times then
      while t.head <= #t.times and t.times[t.head] <= cutoff do
        t.a = t.a - t.costs[t.head]
        t.head = t.head + 1
      end
      if t.head > #t.times or t.a < EPS then t.a = 0 end
    elseif t.a > 0 then
      local old = redis.call('ZRANGEBYSCORE', t.zkey, '-inf', cutoff)
      if #old > 0 then
        local removed = 0
        for _, m in ipairs(old) do removed = removed + tonumber(string.match(m, '^([^:]+)')) end
        redis.call('ZREMRANGEBYSCORE', t.zkey, '-inf', cutoff)
        t.a = t.a - removed
        if t.a < EPS or redis.call('ZCARD', t.zkey) == 0 then t.a = 0 end
      end
    end
  end
end

local function admitAt(t, c, at)
  if c > t.limit + EPS then return INF end
  if t.kind == 0 then
    if t.a + EPS >= c then return at end
    return at + ceilms((c - t.a) * t.period / t.refill)
  elseif t.kind == 1 then
    if t.a + EPS >= c then return at end
    local ticks = math.ceil((c - t.a) / t.refill - EPS)
    return (t.b + ticks) * t.period
  elseif t.kind == 2 then
    if t.b + c <= t.limit + EPS then return at end
    return (t.a + 1) * t.period
  else
    if t.a + c <= t.limit + EPS then return at end
    if not t.times then loadLog(t) end
    local freed = 0
    for j = t.head, #t.times do
      freed = freed + t.costs[j]
      if t.a - freed + c <= t.limit + EPS then return t.times[j] + t.period end
    end
    return at
  end
end

local function consume(t, c, at, real)
  if t.kind == 0 or t.kind == 1 then
    local left = t.a - c
    if left > 0 then t.a = left else t.a = 0 end
  elseif t.kind == 2 then
    t.b = t.b + c
  else
    t.a = t.a + c
    if real then
      seq = seq + 1
      redis.call('ZADD', t.zkey, at, fmt(c) .. ':' .. seq)
      redis.call('PEXPIRE', t.zkey, math.max(1, ceilms(t.period)))
      t.newest = at
    else
      t.times[#t.times + 1] = at
      t.costs[#t.costs + 1] = c
    end
  end
end

local function remaining(t)
  if t.kind == 0 or t.kind == 1 then return t.a end
  if t.kind == 2 then return math.max(0, t.limit - t.b) end
  return math.max(0, t.limit - t.a)
end

local function resetAfter(t)
  if t.kind == 0 then
    local missing = t.limit - t.a
    if missing <= EPS then return 0 end
    return ceilms(missing * t.period / t.refill)
  elseif t.kind == 1 then
    local missing = t.limit - t.a
    if missing <= EPS then return 0 end
    return (t.b + math.ceil(missing / t.refill - EPS)) * t.period - now
  elseif t.kind == 2 then
    if t.b > 0 then return (t.a + 1) * t.period - now end
    return 0
  else
    local newest = t.newest
    if newest == nil and t.a > 0 then
      local r = redis.call('ZREVRANGE', t.zkey, 0, 0, 'WITHSCORES')
      if #r == 2 then newest = tonumber(r[2]) end
    end
    if newest == nil then return 0 end
    return math.max(0, newest + t.period - now)
  end
end

local function save()
  local ttl = 0
  local args = {}
  for i = 1, n do
    local t = tiers[i]
    local r = resetAfter(t)
    if r > ttl then ttl = r end
    args[#args + 1] = t.name .. ':a'
    args[#args + 1] = fmt(t.a)
    args[#args + 1] = t.name .. ':b'
    args[#args + 1] = fmt(t.b)
  end
  if ttl <= 0 then
    redis.call('DEL', hkey)
    return 0
  end
  args[#args + 1] = 's'
  args[#args + 1] = seq
  redis.call('HSET', hkey, unpack(args))
  redis.call('PEXPIRE', hkey, math.max(1, ceilms(ttl)))
  return ttl
end

for i = 1, n do refill(tiers[i], now) end

if op == 'consume' then
  local due = now
  local binding = 0
  for i = 1, n do
    local at = admitAt(tiers[i], cost, now)
    if at > due then due = at; binding = i end
  end
  if binding > 0 then
    save()
    return { 0, binding - 1, fmt(due - now) }
  end
  for i = 1, n do consume(tiers[i], cost, now, true) end
  local out = { 1, fmt(save()) }
  for i = 1, n do out[#out + 1] = fmt(remaining(tiers[i])) end
  return out
elseif op == 'status' then
  local due = now
  for i = 1, n do
    local at = admitAt(tiers[i], 1, now)
    if at > due then due = at end
  end
  local out = { fmt(due - now) }
  for i = 1, n do
    out[#out + 1] = fmt(remaining(tiers[i]))
    out[#out + 1] = fmt(resetAfter(tiers[i]))
  end
  save()
  return out
elseif op == 'adjust' then
  for i = 1, n do
    local t = tiers[i]
    if t.kind == 0 or t.kind == 1 then
      t.a = math.min(t.limit, math.max(0, t.a - cost))
    elseif t.kind == 2 then
      t.b = math.max(0, t.b + cost)
    elseif cost > 0 then
      consume(t, cost, now, true)
    else
      local left = -cost
      local r = redis.call('ZREVRANGE', t.zkey, 0, -1, 'WITHSCORES')
      for j = 1, #r, 2 do
        if left <= EPS then break end
        local m = r[j]
        local c = tonumber(string.match(m, '^([^:]+)'))
        redis.call('ZREM', t.zkey, m)
        if c <= left + EPS then
          left = left - c
          t.a = t.a - c
        else
          seq = seq + 1
          redis.call('ZADD', t.zkey, r[j + 1], fmt(c - left) .. ':' .. seq)
          t.a = t.a - left
          left = 0
        end
      end
      if t.a < EPS then t.a = 0 end
    end
  end
  save()
  return { 1 }
elseif op == 'simulate' then
  save()
  for i = 1, n do
    if tiers[i].kind == 3 then loadLog(tiers[i]) end
  end
  local at = now
  local binding = 0
  for k = 5 + 5 * n, #ARGV do
    local c = tonumber(ARGV[k])
    for i = 1, n do refill(tiers[i], at) end
    local due = at
    for i = 1, n do
      local x = admitAt(tiers[i], c, at)
      if x > due then due = x; binding = i - 1 end
    end
    if due == INF then return { binding, 'inf' } end
    at = due
    for i = 1, n do refill(tiers[i], at) end
    for i = 1, n do consume(tiers[i], c, at, false) end
  end
  return { binding, fmt(at - now) }
end
return redis.error_reply('unknown op ' .. tostring(op))
`

/** The script descriptor: `(keys, args)`; the key count is the length of `keys`. */
export const rateLimitScript = Redis.script(
  (keys: ReadonlyArray<string>, args: ReadonlyArray<string>) => [...keys, ...args],
  { lua: LUA, numberOfKeys: (keys: ReadonlyArray<string>) => keys.length }
).withReturnType<ReadonlyArray<string | number>>()

/** A trivial script through the same path (the `floor.redis-evalsha` benchmark baseline). */
export const trivialScript = Redis.script(
  (key: string) => [key],
  { lua: "return 1", numberOfKeys: 1 }
).withReturnType<number>()

/** Parses a number formatted by the script (`inf` → Infinity). */
export const parseNumber = (value: string | number | undefined): number =>
  typeof value === "number" ? value : value === "inf" ? Number.POSITIVE_INFINITY : Number(value)
