/**
 * The Redis state of the abuse detector (`Abuse.makeRedis`). Layout under `prefix`, `<t>` being `<kind>|<id>`:
 * the sliding window of a rule and target is `l:<policy hash>:<rule index>:<t>`, a sorted set of its time buckets
 * (member the bucket index `floor(time / width)`, scored by the time of its last signal), with
 * `w:<policy hash>:<rule index>:<t>`, a hash of the buckets' weights and their running total (field `t`);
 * `b:<t>` the block, `<until>|<offenses>|<reason>`, expiring a minute after `until` (the callers' clocks decide
 * whether it is active, the expiry only collects it); `o:<t>` the escalation count; `i` a sorted set of the
 * blocked targets scored by `until` (for `list`; expired members are dropped at every block and at most
 * `maxTracked` kept). A signal is one script: skip an active block, slide out the buckets whose last signal left
 * the window (subtracting their weights from the total), add the weight to its bucket and the total, and on
 * reaching the threshold drop the window, count the offense and write the block. A Redis failure is logged and
 * counts as no block (abuse blocking fails open). @internal
 */
import { Effect } from "effect"
import { Redis } from "effect/persistence"
import { createHash } from "node:crypto"
import { luaScript } from "../../internal/RedisLua.ts"
import type { AbusePolicy, AbuseState, Block, BlockTargetKind } from "../Abuse.ts"

// KEYS: window buckets, block, offenses, blocked index, bucket weights.
// ARGV: now, weight, windowMs, threshold, blockMs, escalation, maxBlockMs, window buckets, target, reason,
// offense ttl, max tracked.
const SIGNAL = `
local now, weight, window, threshold = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local blockMs, escalation, maxBlock = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local maxBuckets, maxTracked = tonumber(ARGV[8]), tonumber(ARGV[12])
local width = math.max(1, math.ceil(window / maxBuckets)) -- as Abuse.bucketWidthOf
local b = redis.call('GET', KEYS[2])
if b and tonumber(string.match(b, '^([^|]+)|')) > now then return false end
local total = tonumber(redis.call('HGET', KEYS[5], 't') or '0')
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - window)
for i = 1, #old, 1000 do
  local chunk = {unpack(old, i, math.min(i + 999, #old))}
  for _, w in ipairs(redis.call('HMGET', KEYS[5], unpack(chunk))) do total = total - (tonumber(w) or 0) end
  redis.call('HDEL', KEYS[5], unpack(chunk))
end
if #old > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window) end
if redis.call('EXISTS', KEYS[1]) == 0 then total = 0 end
local bucket = string.format('%.17g', math.floor(now / width))
redis.call('ZADD', KEYS[1], 'GT', now, bucket)
redis.call('HINCRBYFLOAT', KEYS[5], bucket, ARGV[2])
total = total + weight
if redis.call('ZCARD', KEYS[1]) > maxBuckets + 2 then
  local two = redis.call('ZRANGE', KEYS[1], 0, 1)
  redis.call('HINCRBYFLOAT', KEYS[5], two[2], redis.call('HGET', KEYS[5], two[1]) or '0')
  redis.call('HDEL', KEYS[5], two[1])
  redis.call('ZREM', KEYS[1], two[1])
end
if total < threshold then
  redis.call('HSET', KEYS[5], 't', string.format('%.17g', total))
  redis.call('PEXPIRE', KEYS[1], math.ceil(window) + 60000)
  redis.call('PEXPIRE', KEYS[5], math.ceil(window) + 60000)
  return false
end
redis.call('DEL', KEYS[1], KEYS[5])
local n = redis.call('INCR', KEYS[3])
redis.call('PEXPIRE', KEYS[3], ARGV[11])
local ms = math.min(blockMs * escalation ^ (n - 1), maxBlock)
local untilAt = string.format('%.17g', now + ms)
redis.call('SET', KEYS[2], untilAt .. '|' .. n .. '|' .. ARGV[10], 'PX', math.ceil(math.min(ms, 31536000000)) + 60000)
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
redis.call('ZADD', KEYS[4], untilAt, ARGV[9])
local over = redis.call('ZCARD', KEYS[4]) - maxTracked
if over > 0 then redis.call('ZREMRANGEBYRANK', KEYS[4], 0, over - 1) end
return {untilAt, n}
`

const LIFT = `
local b = redis.call('GET', KEYS[1])
if not b or tonumber(string.match(b, '^([^|]+)|')) <= tonumber(ARGV[1]) then return false end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
return b
`

const script = luaScript
const signalScript = script(SIGNAL)
const liftScript = script(LIFT)

const parse = (kind: BlockTargetKind, id: string, value: unknown): Block | undefined => {
  if (typeof value !== "string") return undefined
  const first = value.indexOf("|")
  const second = value.indexOf("|", first + 1)
  if (first < 0 || second < 0) return undefined
  return {
    kind,
    id,
    until: Number(value.slice(0, first)),
    offenses: Number(value.slice(first + 1, second)),
    reason: value.slice(second + 1)
  }
}

const failOpen =
  <A>(operation: string, fallback: A) => <E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, never, R> =>
    effect.pipe(
      Effect.catchCause((cause) =>
        Effect.as(Effect.logWarning(`abuse store: ${operation} failed; counted as no block`, cause), fallback)
      )
    )

const hashOf = (policy: AbusePolicy): string =>
  createHash("sha256").update(JSON.stringify(policy)).digest("hex").slice(0, 12)

export const makeRedisState = (options: {
  readonly prefix: string
  readonly offenseTtlMs: number
  readonly maxTracked: number
  readonly windowBuckets: number
  readonly policy: AbusePolicy
}): Effect.Effect<AbuseState, never, Redis.Redis> =>
  Effect.gen(function*() {
    const redis = yield* Redis.Redis
    const { prefix } = options
    let generation = hashOf(options.policy)
    const target = (kind: BlockTargetKind, id: string) => `${kind}|${id}`
    const blockKey = (kind: BlockTargetKind, id: string) => `${prefix}b:${target(kind, id)}`
    const index = `${prefix}i`
    const split = (member: string): readonly [BlockTargetKind, string] => {
      const at = member.indexOf("|")
      // members are written by `record` as `<kind>|<id>` with a BlockTargetKind
      return [member.slice(0, at) as BlockTargetKind, member.slice(at + 1)]
    }
    const state: AbuseState = {
      record: (i, rule, sig, kind, id, now, weight) =>
        redis.eval(signalScript)(
          [
            `${prefix}l:${generation}:${i}:${target(kind, id)}`,
            blockKey(kind, id),
            `${prefix}o:${target(kind, id)}`,
            index,
            `${prefix}w:${generation}:${i}:${target(kind, id)}`
          ],
          [
            String(now),
            String(weight),
            String(rule.windowMs),
            String(rule.threshold),
            String(rule.blockMs),
            String(rule.escalation ?? 2),
            String(rule.maxBlockMs ?? Number.MAX_SAFE_INTEGER),
            String(options.windowBuckets),
            target(kind, id),
            `${sig} >= ${rule.threshold} in ${rule.windowMs} ms`,
            String(Math.max(1, Math.round(options.offenseTtlMs))),
            String(options.maxTracked)
          ]
        ).pipe(
          Effect.map((reply): Block | undefined =>
            Array.isArray(reply)
              ? {
                kind,
                id,
                until: Number(reply[0]),
                offenses: Number(reply[1]),
                reason: `${sig} >= ${rule.threshold} in ${rule.windowMs} ms`
              }
              : undefined
          ),
          failOpen<Block | undefined>("signal", undefined)
        ),
      active: (targets, now) =>
        targets.length === 0 ?
          Effect.succeed(undefined) :
          redis.send<Array<unknown>>("MGET", ...targets.map(([k, id]) => blockKey(k, id))).pipe(
            Effect.map((values) => {
              for (const [i, [kind, id]] of targets.entries()) {
                const b = parse(kind, id, values[i])
                if (b !== undefined && b.until > now) return b
              }
              return undefined
            }),
            failOpen<Block | undefined>("check", undefined)
          ),
      list: (now) =>
        Effect.gen(function*() {
          yield* redis.send("ZREMRANGEBYSCORE", index, "-inf", String(now))
          const members = yield* redis.send<Array<string>>(
            "ZRANGEBYSCORE",
            index,
            `(${now}`,
            "+inf",
            "LIMIT",
            "0",
            "10000"
          )
          if (members.length === 0) return []
          const values = yield* redis.send<Array<unknown>>("MGET", ...members.map((m) => `${prefix}b:${m}`))
          return members.flatMap((m, i) => {
            const [kind, id] = split(m)
            const b = parse(kind, id, values[i])
            return b !== undefined && b.until > now ? [b] : []
          })
        }).pipe(failOpen<ReadonlyArray<Block>>("list", [])),
      remove: (kind, id, now) =>
        redis.eval(liftScript)([blockKey(kind, id), index], [String(now), target(kind, id)]).pipe(
          Effect.map((reply) => parse(kind, id, reply)),
          failOpen<Block | undefined>("lift", undefined)
        ),
      reset: (policy) =>
        Effect.sync(() => {
          generation = hashOf(policy)
        })
    }
    return state
  })
