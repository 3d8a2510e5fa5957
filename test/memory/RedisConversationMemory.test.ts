/**
 * The Redis conversation memory: the shared conformance suite against a real Redis (unique prefix per run, keys
 * removed afterwards), plus Redis specifics: undecodable stored messages are skipped and counted, expiry, and the
 * stored form is the message Schema's JSON.
 */
import { NodeRedis } from "@effect/platform-node"
import { assert, it } from "@effect/vitest"
import { Context, type Duration, Effect, Layer } from "effect"
import { Redis } from "effect/persistence"
import { afterAll } from "vitest"
import { makeRedis } from "../../src/memory/index.ts"
import type { RedisMemoryOptions } from "../../src/memory/index.ts"
import { appendScript } from "../../src/memory/RedisBackend.ts"
import { cleanupRedisPrefix, describeRedis, redisUrl, uniquePrefix } from "../support/redis.ts"
import { memoryConformance } from "./ConversationMemoryConformance.ts"

const prefix = uniquePrefix("memory")
let n = 0
const conversation = () => `conv-${++n}`

const RedisLive = NodeRedis.layer({ url: redisUrl })
const redisContext = Layer.build(RedisLive)
/** A Redis-backed memory built in the test's Scope; a Redis connection failure is a defect. */
const redisMemory = (options: RedisMemoryOptions) =>
  Effect.flatMap(redisContext, (context) => Effect.provide(makeRedis({ prefix, ...options }), context)).pipe(
    Effect.catchTag("RedisError", (e) => Effect.die(e))
  )

afterAll(async () => {
  await Effect.runPromise(
    cleanupRedisPrefix(prefix).pipe(Effect.provide(RedisLive), Effect.ignore)
  )
})

describeRedis("ConversationMemory (Redis)", () => {
  memoryConformance("redis", redisMemory, conversation)

  it.live("an undecodable stored message is skipped and counted, never a crash", () =>
    Effect.gen(function*() {
      const memory = yield* redisMemory({})
      const id = conversation()
      yield* memory.append(id, [{ role: "user", content: "one" }])
      const redis = Context.get(yield* redisContext, Redis.Redis)
      yield* redis.send("RPUSH", `${prefix}${id}`, "{not json", JSON.stringify({ role: "alien", content: 1 }))
      yield* memory.append(id, [{ role: "assistant", content: "two" }])
      const messages = yield* memory.messages(id)
      assert.deepStrictEqual(messages.map((m) => m.content), ["one", "two"])
      assert.strictEqual((yield* memory.stats).skippedUndecodable, 2)
    }))

  it.live("stores the Schema's JSON, trims atomically, and sets the expiry when a ttl is given", () =>
    Effect.gen(function*() {
      const memory = yield* redisMemory({ maxMessages: 2, ttl: "1 hour" })
      const id = conversation()
      yield* memory.append(id, [{ role: "user", content: "a" }, { role: "user", content: "b" }, {
        role: "user",
        content: "c"
      }])
      const redis = Context.get(yield* redisContext, Redis.Redis)
      const raw = yield* redis.send<Array<string>>("LRANGE", `${prefix}${id}`, "0", "-1")
      assert.deepStrictEqual(raw.map((s) => JSON.parse(s)), [{ role: "user", content: "b" }, {
        role: "user",
        content: "c"
      }])
      const ttl = yield* redis.send<number>("PTTL", `${prefix}${id}`)
      assert.isTrue(ttl > 3_500_000 && ttl <= 3_600_000, `PTTL ${ttl}`)
      const noTtl = yield* redisMemory({})
      const other = conversation()
      yield* noTtl.append(other, [{ role: "user", content: "x" }])
      assert.strictEqual(yield* redis.send<number>("PTTL", `${prefix}${other}`), -1)
    }))

  it.live("an invalid ttl is InvalidMemoryInput naming ttl", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(redisMemory({ ttl: -5 }))
      assert.strictEqual(e._tag === "InvalidMemoryInput" ? e.path : "", "ttl")
    }))

  it.live("a ttl is at most 10 years: a longer one is InvalidMemoryInput naming ttl, and every accepted ttl appends and sets its expiry", () =>
    Effect.gen(function*() {
      for (const ttl of [1e17, "3651 days", Number.MAX_SAFE_INTEGER] satisfies ReadonlyArray<Duration.Input>) {
        const e = yield* Effect.flip(redisMemory({ ttl }))
        assert.strictEqual(e._tag === "InvalidMemoryInput" ? e.path : "", "ttl", String(ttl))
      }
      const redis = Context.get(yield* redisContext, Redis.Redis)
      for (const ttl of ["3650 days", 100_000_000_000, 1.5] satisfies ReadonlyArray<Duration.Input>) {
        const memory = yield* redisMemory({ ttl })
        const id = conversation()
        yield* memory.append(id, [{ role: "user", content: "hello" }])
        assert.strictEqual((yield* memory.messages(id)).length, 1, String(ttl))
        assert.isTrue((yield* redis.send<number>("PTTL", `${prefix}${id}`)) > 0, String(ttl))
      }
    }))

  it.live("the append script checks its arguments before it writes: an append that fails writes nothing", () =>
    Effect.gen(function*() {
      const redis = Context.get(yield* redisContext, Redis.Redis)
      const id = conversation()
      for (const [max, ttl] of [["100", "1e+17"], ["100", "-1"], ["0", "0"], ["x", "0"]] as const) {
        const error = yield* Effect.flip(redis.eval(appendScript)(`${prefix}${id}`, max, ttl, ["{}"]))
        assert.strictEqual(error._tag, "RedisError", `${max} ${ttl}`)
      }
      assert.strictEqual(yield* redis.send<number>("EXISTS", `${prefix}${id}`), 0)
      assert.strictEqual(yield* redis.eval(appendScript)(`${prefix}${id}`, "100", "0", ["{}"]), 1)
    }))
})
