/**
 * The Lua scripts behind the Redis backend: every operation on a key (consume across all tiers, status,
 * penalty/reward, FIFO simulation) is a single atomic `EVALSHA`, so concurrent processes can never
 * interleave between "all tiers admit" and "all tiers consume". The arithmetic mirrors `TierState.ts` line
 * for line (same tier codes, same epsilon, same rounding, same operation order), so memory and Redis answer
 * identically (a differential property test checks this number for number).
 *
 * One script per compiled policy: `scriptFor(policy)` puts the policy's constants (tier kinds, limits,
 * periods, refill amounts, names) into the source, so a call sends only `op, now, cost` — no per-call
 * policy arguments to encode, send and parse. Policies are few and change rarely, so Redis holds a handful
 * of scripts; `RedisScriptRunner` runs them by SHA and loads one on `NOSCRIPT`.
 *
 * Two code paths in each script:
 * - `consume` for a policy without sliding-window tiers (the per-provider defaults: minute bucket, hour and
 *   day windows) is straight-line code: tiers unrolled with their constants inlined, state in locals, no
 *   closure or table but the reply (in Redis's Lua every allocation and global lookup shows in the µs).
 * - everything else (status, penalty/reward, simulation, sliding logs, a changed policy) runs the generic
 *   body, a loop over the tiers.
 *
 * Layout (the hash tag `{key}` keeps a key's data in one cluster slot):
 * - `<prefix>{<key>}`: ONE string holding every tier of the key: a header (the policy's tier specs,
 *   `name kind limit period refill|…`, then `\n`) followed by `2n + 2` little-endian doubles packed with
 *   Redis's bundled `struct` library: `a_i, b_i` per tier (the two numbers of `TierState`), `seq` (the
 *   sequence number of sliding-log members) and `exp` (the caller-clock time up to which the key's Redis
 *   expiry is known to reach). Doubles are exact: no decimal formatting, no parsing.
 *   A check is one `GET` and one write: a new key is `SET … PX`; an existing key is patched in place with
 *   `SETRANGE` over the doubles (header and expiry untouched). `ttl` = time until every tier is full again;
 *   `hold` = that, or a fixed window's end if later (even at count 0, as windows only roll forward). A `SET`
 *   (a new key, the generic body) expires in `hold + max(hold / 8, EXPIRY_SLACK_MS)`; a patch runs `PEXPIRE`
 *   only when less than `EXPIRY_SLACK_MS` would be left between the state's fresh point and `exp`, and then
 *   sets `hold + EXPIRY_SLACK_MS + max(hold / 8, EXPIRY_SLACK_MS)` (headroom, so a draining bucket does not
 *   re-expire on every call; no command is added). So every write leaves a key at least `EXPIRY_SLACK_MS` of
 *   real time past its fresh point in the writer's clock — `exp` may be in another caller's clock, so in a
 *   lagging caller's at least `EXPIRY_SLACK_MS` minus the skew. A key back to its fresh state is deleted, so
 *   Redis memory follows active keys. A stored header equal to the script's is the fast path; a different
 *   one means the policy changed: the old specs are parsed and the state carried over by tier name exactly
 *   as `TierState.migrate` does in memory (a bucket keeps its deficit, a window its hits or log).
 * - `<prefix>{<key>}:<tier>`: a sorted set per sliding-window tier only (score = time, member =
 *   `cost:seq`), expiring with the key. Expired members are removed with `ZREMRANGEBYSCORE` (amortised
 *   O(1)); a refusal reads the log from its oldest member only as far as its `retryAfter` needs (usually one
 *   member, O(log n)); only a simulation (queued `acquire`) reads the whole log. Sliding logs stay exact.
 *
 * Replies are flat arrays; a number that is an exact integer is returned as a Redis integer, anything else
 * (fractional tokens) as a `%.17g` string, infinity as `inf`. `decodeNumber` reads both.
 *
 * Clock: `ARGV[2]` is the caller's `Clock` time in ms (default), or `server` to use Redis `TIME`. See the
 * module doc of `RedisBackend.ts` for why the caller's clock is the default. Key expiries run on Redis's
 * clock and are only a memory bound, never a decision input.
 *
 * Hand-rolled (Effect's RateLimiter script is single-tier): the whole script. Uses Redis's bundled Lua
 * libraries only (`struct`).
 */
import { type CompiledPolicy, TierKind } from "../RateLimitPolicy.ts"
import { GENERIC_BODY } from "./RedisScriptBody.ts"
import { type LuaScript, luaScript } from "./RedisScriptRunner.ts"

/** The header stored in front of a key's packed state: the policy's tier specs (names match `[A-Za-z0-9_./:-]+`). */
export const policyHeader = (policy: CompiledPolicy): string =>
  policy.tiers.map((t) => `${t.name} ${t.kind} ${t.limit} ${t.periodMs} ${t.refillTokens}`).join("|") + "\n"

/**
 * Redis real time a key outlives, at least, the caller-clock time at which its state is back to fresh (every
 * write ensures it; see the layout above). Key expiries run on Redis's clock, decisions on the caller's: the
 * slack keeps a key alive across clock skew between processes and while a `TestClock` stands still, up to
 * this much real time.
 */
export const EXPIRY_SLACK_MS = 60_000

/** Exact Lua literal of a finite number (JS's shortest round-trip form; Lua reads it with `strtod`). */
const lit = (x: number): string => String(x)

/**
 * The straight-line `consume` of a policy without sliding-window tiers: tiers unrolled with their constants
 * inlined, state in locals, no closures or tables but the reply. It runs the same arithmetic as the generic
 * body (and `TierState.ts`), in the same order. A stored header that differs from the script's (the policy
 * changed) falls through to the generic body, which migrates the state.
 */
const fastConsume = (policy: CompiledPolicy, header: string): string => {
  const a = (i: number) => `a${i}`
  const b = (i: number) => `b${i}`
  const state = policy.tiers.flatMap((_, i) => [a(i), b(i)]).concat("seq", "exp").join(", ")
  // fmt / ceilms of the generic body, inlined (a closure per call is a measurable cost in Redis's Lua)
  const num = (x: string) =>
    `((${x} == floor(${x}) and ${x} < 9007199254740992 and ${x}) or string.format('%.17g', ${x}))`
  const ceilms = (target: string, x: string) => `if ${x} <= 0 then ${target} = 0 else ${target} = ceil(${x} - 1e-6) end`
  const lines: Array<string> = [
    "if ARGV[1] == 'consume' then",
    "local floor, ceil, max = math.floor, math.ceil, math.max",
    "local now = tonumber(ARGV[2])",
    "if not now then local t = redis.call('TIME'); now = tonumber(t[1]) * 1000 + floor(tonumber(t[2]) / 1000) end",
    "local cost = tonumber(ARGV[3])",
    "local key = KEYS[1]",
    `local ${state}`,
    "local raw = redis.pcall('GET', key)",
    "local ok = true",
    `if type(raw) == 'string' and string.find(raw, SIG, 1, true) == 1 then`,
    `${state} = struct.unpack(FMT, raw, ${header.length + 1})`,
    "elseif raw == false then",
    "seq = 0; exp = 0"
  ]
  policy.tiers.forEach((t, i) => {
    if (t.kind === TierKind.BucketContinuous) lines.push(`${a(i)} = ${lit(t.limit)}; ${b(i)} = now`)
    else if (t.kind === TierKind.BucketInterval) {
      lines.push(`${a(i)} = ${lit(t.limit)}; ${b(i)} = floor(now / ${lit(t.periodMs)})`)
    } else lines.push(`${a(i)} = floor(now / ${lit(t.periodMs)}); ${b(i)} = 0`)
  })
  lines.push("else ok = false end", "if ok then", "local due = now", "local binding = 0", "local at, w")
  policy.tiers.forEach((t, i) => {
    const [A, B, L, P, R] = [a(i), b(i), lit(t.limit), lit(t.periodMs), lit(t.refillTokens)]
    if (t.kind === TierKind.BucketContinuous) {
      lines.push(
        `if now > ${B} then local tok = ${A} + (now - ${B}) * ${R} / ${P}; if tok > ${L} then tok = ${L} end; ${A} = tok; ${B} = now end`,
        `if cost > ${L} + 1e-9 then at = math.huge elseif ${A} + 1e-9 >= cost then at = now else w = (cost - ${A}) * ${P} / ${R}; ${
          ceilms("at", "w")
        }; at = now + at end`
      )
    } else if (t.kind === TierKind.BucketInterval) {
      lines.push(
        `do local tick = floor(now / ${P}); if tick > ${B} then local tok = ${A} + (tick - ${B}) * ${R}; if tok > ${L} then tok = ${L} end; ${A} = tok; ${B} = tick end end`,
        `if cost > ${L} + 1e-9 then at = math.huge elseif ${A} + 1e-9 >= cost then at = now else at = (${B} + ceil((cost - ${A}) / ${R} - 1e-9)) * ${P} end`
      )
    } else {
      lines.push(
        `do local idx = floor(now / ${P}); if idx > ${A} then ${A} = idx; ${B} = 0 end end`,
        `if cost > ${L} + 1e-9 then at = math.huge elseif ${B} + cost <= ${L} + 1e-9 then at = now else at = (${A} + 1) * ${P} end`
      )
    }
    lines.push(`if at > due then due = at; binding = ${i + 1} end`)
  })
  // `ttl` = time until every tier is fresh (the reply's resetAfter); `hold` = how long the key must live, which
  // for a fixed window is the window's end even when its count is 0 (a deleted key would let a lagging caller
  // recreate an older window: windows only roll forward)
  const save: Array<string> = ["local ttl = 0", "local hold = 0", "local r"]
  policy.tiers.forEach((t, i) => {
    const [A, B, L, P, R] = [a(i), b(i), lit(t.limit), lit(t.periodMs), lit(t.refillTokens)]
    if (t.kind === TierKind.BucketContinuous) {
      save.push(`r = ${L} - ${A}; if r <= 1e-9 then r = 0 else w = r * ${P} / ${R}; ${ceilms("r", "w")} end`)
    } else if (t.kind === TierKind.BucketInterval) {
      save.push(`r = ${L} - ${A}; if r <= 1e-9 then r = 0 else r = (${B} + ceil(r / ${R} - 1e-9)) * ${P} - now end`)
    } else {save.push(
        `if ${B} > 0 then r = (${A} + 1) * ${P} - now else r = 0 end`,
        `do local h = (${A} + 1) * ${P} - now; if h > hold then hold = h end end`
      )}
    save.push("if r > ttl then ttl = r end")
  })
  // Write-back: an existing key is patched in place (SETRANGE over the doubles; the header and the key's
  // expiry stay), and PEXPIRE runs only when less than SLACK would be left past the state's fresh point
  // (`exp`, the expiry already set, may be in another caller's clock: demanding the whole SLACK keeps skew
  // under it from losing state), setting SLACK plus ttl/8 (at least SLACK) of headroom, so a draining bucket
  // does not re-expire on every call; a new key is one SET … PX. Both are measurably cheaper than SET … PX
  // every call.
  save.push(
    "if ttl > hold then hold = ttl end",
    "if hold <= 0 then",
    "if raw then redis.call('DEL', key) end",
    "elseif raw then",
    "if now + hold + SLACK > exp then",
    `w = hold + SLACK + max(hold / 8, SLACK); ${ceilms("w", "w")}; exp = now + w`,
    "redis.call('PEXPIRE', key, max(1, w))",
    "end",
    `redis.call('SETRANGE', key, ${header.length}, struct.pack(FMT, ${state}))`,
    "else",
    `w = hold + max(hold / 8, SLACK); ${ceilms("w", "w")}; exp = now + w`,
    `redis.call('SET', key, struct.pack(FMT_KEYED, SIG, ${state}), 'PX', max(1, w))`,
    "end"
  )
  lines.push(
    "if binding > 0 then",
    "if raw then",
    ...save,
    "end",
    "if due == math.huge then return { 0, binding - 1, 'inf' } end",
    `return { 0, binding - 1, ${num("(due - now)")} }`,
    "end"
  )
  policy.tiers.forEach((t, i) => {
    if (t.kind === TierKind.FixedWindow) lines.push(`${b(i)} = ${b(i)} + cost`)
    else lines.push(`do local left = ${a(i)} - cost; if left > 0 then ${a(i)} = left else ${a(i)} = 0 end end`)
  })
  lines.push(...save)
  const remaining = policy.tiers.map((t, i) =>
    t.kind === TierKind.FixedWindow ? `max(0, ${lit(t.limit)} - ${b(i)})` : a(i)
  )
  lines.push(
    ...remaining.map((x, i) => `local q${i} = ${x}`),
    `return { 1, ${num("ttl")}, ${remaining.map((_, i) => num(`q${i}`)).join(", ")} }`,
    "end",
    "end"
  )
  return lines.join("\n") + "\n"
}

/** The Lua source of `policy`'s script: its constants, the generic body, and the unrolled `consume` fast path. */
export const luaFor = (policy: CompiledPolicy): string => {
  const tiers = policy.tiers
  const list = (f: (i: number) => string | number) => `{${tiers.map((_, i) => String(f(i))).join(", ")}}`
  let zk = 1
  const header = policyHeader(policy)
  const constants = [
    `local SIG = '${header.replace("\n", "\\n")}'`,
    `local SIGLEN = ${header.length}`,
    `local FMT = '<${"d".repeat(2 * tiers.length + 2)}'`,
    `local FMT_KEYED = '<c${header.length}${"d".repeat(2 * tiers.length + 2)}'`,
    `local SLACK = ${EXPIRY_SLACK_MS}`
  ].join("\n")
  const tables = [
    `local N = ${tiers.length}`,
    `local KIND = ${list((i) => tiers[i]?.kind ?? 0)}`,
    `local LIM = ${list((i) => lit(tiers[i]?.limit ?? 0))}`,
    `local PER = ${list((i) => lit(tiers[i]?.periodMs ?? 1))}`,
    `local REF = ${list((i) => lit(tiers[i]?.refillTokens ?? 0))}`,
    `local NAME = ${list((i) => `'${tiers[i]?.name ?? ""}'`)}`,
    `local ZK = ${list((i) => (tiers[i]?.kind === TierKind.SlidingWindow ? ++zk : "false"))}`,
    "local function fmt(x)",
    "  if x == math.huge then return 'inf' end",
    "  if x == math.floor(x) and x > -9007199254740992 and x < 9007199254740992 then return x end",
    "  return string.format('%.17g', x)",
    "end",
    "local function ceilms(x)",
    "  if x <= 0 then return 0 end",
    "  return math.ceil(x - 1e-6)",
    "end"
  ].join("\n")
  // the fast path (policies without sliding tiers) returns before any table or closure is created
  const fast = tiers.some((t) => t.kind === TierKind.SlidingWindow) ? "" : fastConsume(policy, header)
  return `${constants}\n${fast}${tables}${GENERIC_BODY}`
}

const scripts = new WeakMap<CompiledPolicy, LuaScript>()

/** The script of `policy` (source and SHA-1 built once per compiled policy). */
export const scriptFor = (policy: CompiledPolicy): LuaScript => {
  let script = scripts.get(policy)
  if (script === undefined) {
    script = luaScript(luaFor(policy))
    scripts.set(policy, script)
  }
  return script
}

/** A trivial script, run through the same runner (the `floor.redis-evalsha` benchmark baseline). */
export const trivialScript: LuaScript = luaScript("return 1")

/** Reads a number of a script reply: an integer reply, a `%.17g` string, or `inf`. */
export const decodeNumber = (value: string | number | undefined): number =>
  typeof value === "number" ? value : value === "inf" ? Number.POSITIVE_INFINITY : Number(value)
