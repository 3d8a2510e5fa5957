/**
 * The generic body of every rate-limit script (see `RedisScript.ts` for the layout and the fast path): all
 * operations (`consume`, `status`, `adjust`, `simulate`) over any mix of tiers, written as a loop over the
 * tiers with the arithmetic of `TierState.ts`. `RedisScript.luaFor` prepends the policy's constants (`N`,
 * `KIND`, `LIM`, `PER`, `REF`, `NAME`, `ZK`, `SIG`, `SIGLEN`, `FMT`, `FMT_KEYED`) and the helpers `fmt` and
 * `ceilms`. Sliding-window tiers keep an exact log in a sorted set per tier.
 *
 * Hand-rolled (Effect's RateLimiter script is single-tier).
 */

/** Lua source; expects the constants and helpers listed above to be defined before it. */
export const GENERIC_BODY = `
local op = ARGV[1]
local now = tonumber(ARGV[2])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local cost = tonumber(ARGV[3])
local key = KEYS[1]
local EPS = 1e-9
local INF = math.huge
local floor = math.floor
local A = {}
local B = {}
local seq = 0
local TIMES = {}
local COSTS = {}
local HEAD = {}
local NEWEST = {}

local function fresh(i)
  local k = KIND[i]
  if k == 0 then A[i] = LIM[i]; B[i] = now
  elseif k == 1 then A[i] = LIM[i]; B[i] = floor(now / PER[i])
  elseif k == 2 then A[i] = floor(now / PER[i]); B[i] = 0
  else A[i] = 0; B[i] = 0 end
end

local function memberCost(m)
  return tonumber(string.match(m, '^([^:]+)'))
end

-- sliding log: drops members older than period (used by refill and by migration with the old window)
local function slide(i, at, period)
  local cutoff = at - period
  if TIMES[i] then
    local t, c, h = TIMES[i], COSTS[i], HEAD[i]
    while h <= #t and t[h] <= cutoff do
      A[i] = A[i] - c[h]
      h = h + 1
    end
    HEAD[i] = h
    if h > #t or A[i] < EPS then A[i] = 0 end
  elseif A[i] > 0 then
    local zk = KEYS[ZK[i]]
    local old = redis.call('ZRANGEBYSCORE', zk, '-inf', cutoff)
    if #old > 0 then
      local removed = 0
      for _, m in ipairs(old) do removed = removed + memberCost(m) end
      redis.call('ZREMRANGEBYSCORE', zk, '-inf', cutoff)
      A[i] = A[i] - removed
      if A[i] < EPS or redis.call('ZCARD', zk) == 0 then A[i] = 0 end
    end
  end
end

local function loadLog(i)
  local r = redis.call('ZRANGE', KEYS[ZK[i]], 0, -1, 'WITHSCORES')
  local t, c = {}, {}
  for j = 1, #r, 2 do
    c[#c + 1] = memberCost(r[j])
    t[#t + 1] = tonumber(r[j + 1])
  end
  TIMES[i] = t
  COSTS[i] = c
  HEAD[i] = 1
end

local function migrate(raw)
  local nl = string.find(raw, '\\n', 1, true)
  if not nl then return end
  local old = {}
  for spec in string.gmatch(string.sub(raw, 1, nl - 1), '[^|]+') do
    local name, k, l, p, r = string.match(spec, '^(%S+) (%S+) (%S+) (%S+) (%S+)$')
    if not name then return end
    old[#old + 1] = { name, tonumber(k), tonumber(l), tonumber(p), tonumber(r) }
  end
  local m = #old
  local ok, v = pcall(function() return { struct.unpack('<' .. string.rep('d', 2 * m + 2), raw, nl + 1) } end)
  if not ok then return end
  seq = v[2 * m + 1]
  for i = 1, N do
    for j = 1, m do
      local o = old[j]
      if o[1] == NAME[i] then
        local ok2, lim, per, ref = o[2], o[3], o[4], o[5]
        local a, b = v[2 * j - 1], v[2 * j]
        if ok2 == 0 then
          if now > b then a = math.min(lim, a + (now - b) * ref / per) end
        elseif ok2 == 1 then
          local tick = floor(now / per)
          if tick > b then a = math.min(lim, a + (tick - b) * ref) end
        elseif ok2 == 2 then
          if floor(now / per) > a then b = 0 end
        end
        local k = KIND[i]
        if (k == 0 or k == 1) and (ok2 == 0 or ok2 == 1) then
          -- the deficit carries over (TierState.carriedTokens): a full bucket stays full
          local deficit = lim - a
          if deficit <= EPS then A[i] = LIM[i]
          elseif lim == LIM[i] then A[i] = a
          elseif LIM[i] - deficit > 0 then A[i] = LIM[i] - deficit
          else A[i] = 0 end
        elseif k == 2 and ok2 == 2 and PER[i] == per then
          B[i] = b
        elseif k == 3 and ok2 == 3 then
          A[i] = a
          slide(i, now, per)
        end
      end
    end
  end
end

local raw = redis.pcall('GET', key)
if type(raw) == 'string' and string.sub(raw, 1, SIGLEN) == SIG then
  local v = { struct.unpack(FMT, raw, SIGLEN + 1) }
  for i = 1, N do
    A[i] = v[2 * i - 1]
    B[i] = v[2 * i]
  end
  seq = v[2 * N + 1]
else
  for i = 1, N do fresh(i) end
  if type(raw) == 'string' then migrate(raw)
  elseif type(raw) == 'table' then redis.call('DEL', key); raw = false end
end

local function refill(i, at)
  local k = KIND[i]
  if k == 0 then
    if at > B[i] then
      local tok = A[i] + (at - B[i]) * REF[i] / PER[i]
      if tok > LIM[i] then tok = LIM[i] end
      A[i] = tok
      B[i] = at
    end
  elseif k == 1 then
    local tick = floor(at / PER[i])
    if tick > B[i] then
      local tok = A[i] + (tick - B[i]) * REF[i]
      if tok > LIM[i] then tok = LIM[i] end
      A[i] = tok
      B[i] = tick
    end
  elseif k == 2 then
    local idx = floor(at / PER[i])
    if idx > A[i] then A[i] = idx; B[i] = 0 end
  else
    slide(i, at, PER[i])
  end
end

local function admitAt(i, c, at)
  if c > LIM[i] + EPS then return INF end
  local k = KIND[i]
  if k == 0 then
    if A[i] + EPS >= c then return at end
    return at + ceilms((c - A[i]) * PER[i] / REF[i])
  elseif k == 1 then
    if A[i] + EPS >= c then return at end
    local ticks = math.ceil((c - A[i]) / REF[i] - EPS)
    return (B[i] + ticks) * PER[i]
  elseif k == 2 then
    if B[i] + c <= LIM[i] + EPS then return at end
    return (A[i] + 1) * PER[i]
  else
    if A[i] + c <= LIM[i] + EPS then return at end
    local freed = 0
    if TIMES[i] then
      local t, cs = TIMES[i], COSTS[i]
      for j = HEAD[i], #t do
        freed = freed + cs[j]
        if A[i] - freed + c <= LIM[i] + EPS then return t[j] + PER[i] end
      end
      return at
    end
    -- a refusal reads the log from its oldest member only as far as it must (usually one member), in growing
    -- chunks: O(log n) per refusal instead of loading the whole log
    local zk = KEYS[ZK[i]]
    local start, n = 0, 1
    while true do
      local r = redis.call('ZRANGE', zk, start, start + n - 1, 'WITHSCORES')
      if #r == 0 then return at end
      for j = 1, #r, 2 do
        freed = freed + memberCost(r[j])
        if A[i] - freed + c <= LIM[i] + EPS then return tonumber(r[j + 1]) + PER[i] end
      end
      start = start + n
      n = n * 8
    end
  end
end

local function take(i, c, at, real)
  local k = KIND[i]
  if k == 0 or k == 1 then
    local left = A[i] - c
    if left > 0 then A[i] = left else A[i] = 0 end
  elseif k == 2 then
    B[i] = B[i] + c
  else
    A[i] = A[i] + c
    if real then
      seq = seq + 1
      redis.call('ZADD', KEYS[ZK[i]], at, fmt(c) .. ':' .. seq)
      NEWEST[i] = at
    else
      local t = TIMES[i]
      t[#t + 1] = at
      COSTS[i][#t] = c
    end
  end
end

local function remaining(i)
  local k = KIND[i]
  if k == 0 or k == 1 then return A[i] end
  if k == 2 then return math.max(0, LIM[i] - B[i]) end
  return math.max(0, LIM[i] - A[i])
end

local function resetAfter(i)
  local k = KIND[i]
  if k == 0 then
    local missing = LIM[i] - A[i]
    if missing <= EPS then return 0 end
    return ceilms(missing * PER[i] / REF[i])
  elseif k == 1 then
    local missing = LIM[i] - A[i]
    if missing <= EPS then return 0 end
    return (B[i] + math.ceil(missing / REF[i] - EPS)) * PER[i] - now
  elseif k == 2 then
    if B[i] > 0 then return (A[i] + 1) * PER[i] - now end
    return 0
  else
    local newest = NEWEST[i]
    if newest == nil and A[i] > 0 then
      local r = redis.call('ZREVRANGE', KEYS[ZK[i]], 0, 0, 'WITHSCORES')
      if #r == 2 then newest = tonumber(r[2]) end
    end
    if newest == nil then return 0 end
    return math.max(0, newest + PER[i] - now)
  end
end

-- writes the state back (one SET with PX) or deletes a key that is back to fresh; returns the ttl
local function save()
  local ttl = 0
  local hold = 0
  local v = {}
  for i = 1, N do
    local r = resetAfter(i)
    if r > ttl then ttl = r end
    -- a fixed window's key lives to the window's end even at count 0 (windows only roll forward)
    if KIND[i] == 2 then
      local h = (A[i] + 1) * PER[i] - now
      if h > hold then hold = h end
    end
    v[2 * i - 1] = A[i]
    v[2 * i] = B[i]
  end
  v[2 * N + 1] = seq
  if ttl > hold then hold = ttl end
  if hold <= 0 then
    if raw then redis.call('DEL', key) end
    return 0
  end
  local px = math.max(1, ceilms(hold + math.max(hold / 8, SLACK)))
  v[2 * N + 2] = now + px
  redis.call('SET', key, struct.pack(FMT_KEYED, SIG, unpack(v)), 'PX', px)
  for i = 1, N do
    if KIND[i] == 3 and A[i] > 0 then redis.call('PEXPIRE', KEYS[ZK[i]], px) end
  end
  return ttl
end

for i = 1, N do refill(i, now) end

if op == 'consume' then
  local due = now
  local binding = 0
  for i = 1, N do
    local at = admitAt(i, cost, now)
    if at > due then due = at; binding = i end
  end
  if binding > 0 then
    if raw then save() end
    return { 0, binding - 1, fmt(due - now) }
  end
  for i = 1, N do take(i, cost, now, true) end
  local out = { 1, fmt(save()) }
  for i = 1, N do out[i + 2] = fmt(remaining(i)) end
  return out
elseif op == 'status' then
  local due = now
  for i = 1, N do
    local at = admitAt(i, 1, now)
    if at > due then due = at end
  end
  local out = { fmt(due - now) }
  for i = 1, N do
    out[2 * i] = fmt(remaining(i))
    out[2 * i + 1] = fmt(resetAfter(i))
  end
  if raw then save() end
  return out
elseif op == 'adjust' then
  for i = 1, N do
    local k = KIND[i]
    if k == 0 or k == 1 then
      A[i] = math.min(LIM[i], math.max(0, A[i] - cost))
    elseif k == 2 then
      B[i] = math.max(0, B[i] + cost)
    elseif cost > 0 then
      take(i, cost, now, true)
    else
      local left = -cost
      local zk = KEYS[ZK[i]]
      local r = redis.call('ZREVRANGE', zk, 0, -1, 'WITHSCORES')
      for j = 1, #r, 2 do
        if left <= EPS then break end
        local m = r[j]
        local c = memberCost(m)
        redis.call('ZREM', zk, m)
        if c <= left + EPS then
          left = left - c
          A[i] = A[i] - c
        else
          seq = seq + 1
          redis.call('ZADD', zk, r[j + 1], fmt(c - left) .. ':' .. seq)
          A[i] = A[i] - left
          left = 0
        end
      end
      if A[i] < EPS then A[i] = 0 end
    end
  end
  save()
  return { 1 }
elseif op == 'simulate' then
  if raw then save() end
  for i = 1, N do
    if KIND[i] == 3 then loadLog(i) end
  end
  local at = now
  local binding = 0
  for k = 4, #ARGV do
    local c = tonumber(ARGV[k])
    for i = 1, N do refill(i, at) end
    local due = at
    for i = 1, N do
      local x = admitAt(i, c, at)
      if x > due then due = x; binding = i - 1 end
    end
    if due == INF then return { binding, 'inf' } end
    at = due
    for i = 1, N do refill(i, at) end
    for i = 1, N do take(i, c, at, false) end
  end
  return { binding, fmt(at - now) }
end
return redis.error_reply('unknown op ' .. tostring(op))
`
