/**
 * The Redis conversation memory: one list per conversation (`<prefix><conversationId>`), appended and trimmed
 * atomically by one Lua script (RPUSH + LTRIM to the last N, plus PEXPIRE when a `ttl` is set, refreshed on every
 * append), read with LRANGE. The script checks its arguments before it writes, so an append that fails has written
 * nothing; a `ttl` is at most 10 years (`MAX_TTL_MILLIS`), a longer one is refused when the memory is built. A
 * batch of any size appends as in the in-process memory: only its last N messages are sent, and the script pushes
 * them 1,000 at a time (Lua's `unpack` takes at most ~8,000 values).
 *
 * Messages are stored as the JSON of their `LlmMessage` encoding. Reading decodes each one; a message that is not
 * JSON or no longer matches the Schema (written by another version, edited by hand) is skipped and counted in
 * `stats.skippedUndecodable` — never a crash. Redis failures are `MemoryBackendError`s. Uses effect's `Redis`
 * service from `effect/persistence` (provide `NodeRedis.layer` from `@effect/platform-node`).
 *
 * @since 0.1.0
 */
import { Duration, Effect, Layer, Option, Schema } from "effect"
import { Redis } from "effect/persistence"
import type { LlmMessage } from "../llm/index.ts"
import { LlmMessage as LlmMessageSchema } from "../llm/index.ts"
import type { ConversationMemoryShape, MemoryOptions } from "./ConversationMemory.ts"
import { checkCount, ConversationMemory, DEFAULT_MAX_MESSAGES, fromStore } from "./ConversationMemory.ts"
import { InvalidMemoryInput, MemoryBackendError } from "./MemoryError.ts"

/** Options of the Redis layer. */
export interface RedisMemoryOptions extends MemoryOptions {
  /** Key prefix. Default `troupe:memory:`. */
  readonly prefix?: string
  /** Expire a conversation this long after its last append. Default: never. */
  readonly ttl?: Duration.Input
}

/** The longest `ttl`: 10 years (3,650 days), in milliseconds. */
export const MAX_TTL_MILLIS = 3_650 * 86_400_000

/**
 * The append script (exported for tests): `ARGV[1]` the messages kept (an integer from 1), `ARGV[2]` the ttl in
 * milliseconds (`0`: none), both as decimal integers, checked before anything is written; then the messages. It
 * fails with a Redis error (`RedisError`, writing nothing) when either argument is not such an integer.
 */
export const appendScript = Redis.script(
  (key: string, maxMessages: string, ttlMillis: string, values: ReadonlyArray<string>) => [
    key,
    maxMessages,
    ttlMillis,
    ...values
  ],
  {
    lua: `
local max, ttl = ARGV[1], ARGV[2]
if not string.match(max, '^[1-9]%d*$') or not string.match(ttl, '^%d+$') then
  return redis.error_reply('ERR troupe memory append: maxMessages and ttl must be decimal integers')
end
local n = 0
for i = 3, #ARGV, 1000 do
  n = redis.call('RPUSH', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call('LTRIM', KEYS[1], '-' .. max, -1)
if ttl ~= '0' then redis.call('PEXPIRE', KEYS[1], ttl) end
return n`,
    numberOfKeys: 1
  }
).withReturnType<number>()

/** The ttl in whole milliseconds (at least 1), or `undefined` when it is not a duration above 0 and at most 10 years. */
const ttlMillisOf = (input: Duration.Input): number | undefined => {
  const decoded = typeof input === "number" ? Option.some(Duration.millis(input)) : Duration.fromInput(input)
  if (Option.isNone(decoded)) return undefined
  const ms = Duration.toMillis(decoded.value)
  return ms > 0 && ms <= MAX_TTL_MILLIS ? Math.max(1, Math.round(ms)) : undefined
}

const encodeMessage = Schema.encodeSync(LlmMessageSchema)
const decodeMessage = Schema.decodeUnknownExit(LlmMessageSchema)

/**
 * Builds a Redis-backed memory. Fails with `InvalidMemoryInput` when `maxMessages` is not an integer from 1 to
 * 100,000,000 or `ttl` is not a duration above 0 of at most 10 years (`MAX_TTL_MILLIS`). Redis is not contacted
 * here, so an unreachable Redis shows up later as each operation's `MemoryBackendError`.
 */
export const makeRedis = (
  options: RedisMemoryOptions = {}
): Effect.Effect<ConversationMemoryShape, InvalidMemoryInput, Redis.Redis> =>
  Effect.gen(function*() {
    const redis = yield* Redis.Redis
    const maxMessages = yield* checkCount(options.maxMessages ?? DEFAULT_MAX_MESSAGES, "maxMessages")
    const prefix = options.prefix ?? "troupe:memory:"
    let ttlMillis = 0
    if (options.ttl !== undefined) {
      const ms = ttlMillisOf(options.ttl)
      if (ms === undefined) {
        return yield* InvalidMemoryInput.at("ttl", "expected a duration above 0 of at most 10 years")
      }
      ttlMillis = ms
    }
    let skipped = 0
    const append = appendScript
    const backendError = (operation: string, conversationId: string) => (e: Redis.RedisError) =>
      new MemoryBackendError({
        operation,
        conversationId,
        reason: String(e.cause instanceof Error ? e.cause.message : e.cause)
      })

    return fromStore(maxMessages, {
      append: (id, messages) =>
        // only the last maxMessages can be kept: the rest is never sent
        redis.eval(append)(
          prefix + id,
          String(maxMessages),
          String(ttlMillis),
          messages.slice(-maxMessages).map((m) => JSON.stringify(encodeMessage(m)))
        )
          .pipe(
            Effect.mapError(backendError("append", id)),
            Effect.asVoid
          ),
      messages: (id, last) =>
        Effect.map(
          redis.send<ReadonlyArray<string>>("LRANGE", prefix + id, String(-(last ?? maxMessages)), "-1").pipe(
            Effect.mapError(backendError("messages", id))
          ),
          (raw) => {
            const out: Array<LlmMessage> = []
            for (const item of raw) {
              let json: unknown
              try {
                json = JSON.parse(item)
              } catch {
                skipped++
                continue
              }
              const exit = decodeMessage(json)
              if (exit._tag === "Success") out.push(exit.value)
              else skipped++
            }
            return out
          }
        ),
      clear: (id) => redis.send("DEL", prefix + id).pipe(Effect.mapError(backendError("clear", id)), Effect.asVoid),
      stats: Effect.sync(() => ({ skippedUndecodable: skipped, evictedConversations: 0 }))
    })
  })

/**
 * Redis-backed conversation memory (needs effect's `Redis`, e.g. `NodeRedis.layer({ url })`). Fails with
 * `InvalidMemoryInput` when `maxMessages` is not an integer from 1 to 100,000,000 or `ttl` is not a duration above 0
 * of at most 10 years (as `makeRedis`).
 *
 * @example
 * ```ts
 * layerRedis({ maxMessages: 100, ttl: "7 days" }).pipe(Layer.provide(NodeRedis.layer({ url: "redis://127.0.0.1:6379" })))
 * ```
 */
export const layerRedis = (
  options: RedisMemoryOptions = {}
): Layer.Layer<ConversationMemory, InvalidMemoryInput, Redis.Redis> =>
  Layer.effect(ConversationMemory, makeRedis(options))
