import { NodeRedis } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Logger, Option } from "effect"
import { Redis } from "effect/persistence"
import * as fc from "fast-check"
import { execFile } from "node:child_process"
import { join } from "node:path"
import { promisify } from "node:util"
import { InvalidTroupeOptions, Troupe } from "../../src/app/index.ts"
import { ErrorHandlers } from "../../src/errors/index.ts"
import { ConversationMemory } from "../../src/memory/index.ts"
import { Llm } from "../../src/pipeline/index.ts"
import { RateLimiter } from "../../src/ratelimit/index.ts"
import { Supervisor } from "../../src/runtime/index.ts"
import { TelemetryHub } from "../../src/telemetry/index.ts"
import { cleanupRedisPrefix, describeRedis, redisUrl, uniquePrefix } from "../support/redis.ts"

const question = { model: "fast", messages: [{ role: "user", content: "What is troupe?" }] } as const

describe("Troupe.layerTest", () => {
  it.effect("composes every service under one root supervisor; an LLM call works and a repeat is a cache hit", () =>
    Effect.gen(function*() {
      const root = yield* Effect.scoped(Effect.gen(function*() {
        const context = yield* Layer.build(Troupe.layerTest())
        return yield* Effect.gen(function*() {
          const root = yield* Supervisor.RootSupervisor
          const subtrees = (yield* Supervisor.whichChildren(root)).map((c) => c.id)
          for (const expected of ["telemetry", "ratelimit", "cache:responses", "agents"]) {
            assert.isTrue(subtrees.some((id) => id.startsWith(expected)), `${expected} in ${subtrees.join(", ")}`)
          }
          const llm = yield* Llm
          const first = yield* llm.generate(question)
          const second = yield* llm.generate(question)
          assert.strictEqual(first.text, second.text)
          assert.isFalse(first.meta.cached)
          assert.isTrue(second.meta.cached)
          const report = yield* (yield* TelemetryHub).report()
          assert.include(report, "llm")
          return root
        }).pipe(Effect.provide(context))
      }))
      assert.deepStrictEqual(root.exitReason?._tag, "Shutdown")
    }))
})

// In a fresh process: a resolve hook records every node-redis module resolved while Troupe.layerTest answers a call,
// then ResilientRedis (what the Redis layers import) is loaded as the control that the hook sees node-redis.
const redisProbe = `
import { registerHooks } from "node:module"
const seen = []
registerHooks({
  resolve(specifier, context, next) {
    const r = next(specifier, context)
    if (/node_modules\\/(redis|@redis\\/[^/]+)\\//.test(r.url)) seen.push(r.url)
    return r
  }
})
const root = process.cwd()
const { Effect } = await import("effect")
const { Troupe } = await import(\`\${root}/src/app/index.ts\`)
const { Llm } = await import(\`\${root}/src/pipeline/index.ts\`)
await Effect.runPromise(Effect.gen(function*() {
  const llm = yield* Llm
  yield* llm.generate({ model: "fast", messages: [{ role: "user", content: "hi" }] })
}).pipe(Effect.provide(Troupe.layerTest())))
const before = seen.length
await import(\`\${root}/src/app/internal/ResilientRedis.ts\`)
console.log(JSON.stringify({ before, after: seen.length }))
`

describe("Troupe: secrets in log lines", () => {
  it.effect("a failing error handler's cause is logged masked under Troupe.layer: no secret in any log line", () => {
    const lines: Array<string> = []
    const capture = Logger.make((o) => void lines.push(`${JSON.stringify(o.message)} ${Cause.pretty(o.cause)}`))
    const secret = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0" // synthetic
    return Effect.gen(function*() {
      const handlers = yield* ErrorHandlers
      yield* handlers.register(
        "webhook",
        { recovery: "reject" },
        () => Effect.fail(new Error(`webhook refused Authorization: Bearer ${secret}`))
      )
      yield* handlers.handle({ _tag: "GuardBlocked", message: "blocked" })
      const text = lines.join("\n")
      assert.include(text, "error handler \\\"webhook\\\" failed")
      assert.include(text, "webhook refused")
      assert.notInclude(text, secret.slice(8))
    }).pipe(Effect.provide(Troupe.layerTest().pipe(Layer.provide(Logger.layer([capture])))))
  })
})

describe("Troupe: lazy loading", () => {
  it("code a layer does not use is not loaded: node-redis only by the Redis layers", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", redisProbe], {
      cwd: join(import.meta.dirname, "..", "..")
    })
    const { before, after } = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}")
    assert.strictEqual(before, 0) // Troupe.layerTest answered a call without node-redis
    assert.isAbove(after, 0) // the hook does see node-redis once a Redis layer's module is imported
  }, 60_000)
})

describe("Troupe.layer options", () => {
  it.effect("invalid options fail the layer in the error channel with InvalidTroupeOptions (never a throw)", () =>
    Effect.gen(function*() {
      // making the layer does not throw; building it fails with the typed error naming the path
      const layer = Troupe.layer({ redis: { url: "localhost:6379" } })
      const exit = yield* Effect.exit(Layer.build(layer).pipe(Effect.scoped))
      assert.isTrue(Exit.isFailure(exit))
      const error = yield* Effect.flip(Layer.build(layer).pipe(Effect.scoped))
      assert.instanceOf(error, InvalidTroupeOptions)
      assert.strictEqual(error._tag, "InvalidTroupeOptions")
      assert.strictEqual(error.path, "redis.url")
      assert.include(error.message, "redis.url")
      const test = yield* Effect.flip(Layer.build(Troupe.layerTest({ name: "" })).pipe(Effect.scoped))
      assert.strictEqual(test._tag, "InvalidTroupeOptions")
      assert.strictEqual((test as InvalidTroupeOptions).path, "name")
    }))

  it.effect("invalid options fail the layer with InvalidTroupeOptions naming the path, whichever option is wrong", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [unknown, string]> = [
        [{ providers: 5 }, "providers"],
        [{ providers: null }, "providers"],
        [{ providers: "x" }, "providers"],
        [{ providers: { scripted: 5 } }, "providers.scripted"],
        [{ config: 5 }, "config"],
        [{ config: { env: 5 } }, "config.env"],
        [{ telemetry: null }, "telemetry"],
        [{ rateLimiter: "x" }, "rateLimiter"],
        [{ rateLimiter: { policies: 5 } }, "rateLimiter.policies"],
        [{ pipeline: 5 }, "pipeline"],
        [{ pipeline: { cache: null } }, "pipeline.cache"],
        [{ replaceDefaultPolicies: "yes" }, "replaceDefaultPolicies"],
        [{ costs: true, recommendations: 5 }, "recommendations"],
        [{ memory: { maxMessages: 200_000_000 } }, "memory.maxMessages"]
      ]
      for (const [options, path] of cases) {
        // the cast is the point of the test: untyped input, as from a config file
        const error = yield* Effect.flip(
          Layer.build(Troupe.layerTest(options as Troupe.TroupeOptions)).pipe(Effect.scoped)
        )
        assert.strictEqual(error._tag, "InvalidTroupeOptions", JSON.stringify(options))
        assert.strictEqual((error as InvalidTroupeOptions).path, path, JSON.stringify(options))
      }
    }))

  it.effect("fuzz: arbitrary option values never throw when the layer is made; a bad one fails in the error channel", () =>
    Effect.gen(function*() {
      // a value of the wrong type at the top is InvalidTroupeOptions; options a sub-service decodes itself (their
      // inner keys) may fail with its own typed error
      const objects = new Set(["config", "telemetry", "rateLimiter", "providers", "pipeline", "recommendations"])
      const keys = ["name", "redis", "postgres", "memory", "replaceDefaultPolicies", ...objects]
      const wrongType = (key: string, value: unknown) =>
        objects.has(key)
          ? typeof value !== "object" || value === null
          : key === "replaceDefaultPolicies" && typeof value !== "boolean"
      // one option varied at a time (so the others do not fail first), then several together
      const samples: Array<Record<string, unknown>> = keys.flatMap((key) =>
        fc.sample(fc.anything(), 12).map((value) => ({
          [key]: value,
          ...(key === "recommendations" ? { costs: true } : {})
        }))
      )
      samples.push(...fc.sample(
        fc.record({ name: fc.anything(), redis: fc.anything(), postgres: fc.anything(), memory: fc.anything() }, {
          requiredKeys: []
        }),
        30
      ))
      for (const options of samples) {
        // the cast is the point of the test: untyped input, as from a config file
        const layer = Troupe.layerTest(options as Troupe.TroupeOptions)
        const exit = yield* Effect.exit(Layer.build(layer).pipe(Effect.scoped))
        const wrong = Object.entries(options).some(([key, value]) => wrongType(key, value))
        if (wrong) assert.isTrue(Exit.isFailure(exit), `accepted ${String(Object.keys(options))}`)
        if (Exit.isFailure(exit)) {
          const error = Cause.findErrorOption(exit.cause)
          const tag = Option.isSome(error) ? (error.value as { _tag?: string })._tag : undefined
          assert.isString(tag, String(exit.cause))
          if (wrong) assert.strictEqual(tag, "InvalidTroupeOptions", String(exit.cause))
        }
      }
    }))
})

describeRedis("Troupe.layer with Redis", () => {
  it.live("with redis: { url } the rate limiter, the cache's L2 and conversation memory live in Redis", () => {
    const prefix = uniquePrefix("troupe-app")
    const hourly = { tiers: [{ _tag: "FixedWindow", name: "hour", limit: 1, window: "1 hour" }] } as const
    // two applications on one Redis, one after the other: the second starts with empty in-process state
    const app = () =>
      Troupe.layer({
        redis: { url: redisUrl, prefix },
        config: { env: {} },
        providers: { scripted: {} },
        rateLimiter: { policies: { default: hourly } }
      })
    const conversation = [{ role: "user", content: "remember me" }, { role: "assistant", content: "I will" }] as const
    return Effect.gen(function*() {
      yield* Effect.gen(function*() {
        assert.isFalse((yield* (yield* Llm).generate(question)).meta.cached)
        yield* (yield* RateLimiter).check("app-key")
        yield* (yield* ConversationMemory).append("c-1", conversation)
      }).pipe(Effect.provide(app()))
      const redis = yield* Redis.Redis
      const keysUnder = (part: string) => redis.send<ReadonlyArray<string>>("KEYS", `${prefix}${part}:*`)
      assert.isAbove((yield* keysUnder("rl")).length, 0)
      assert.isAbove((yield* keysUnder("cache")).length, 0)
      assert.isAbove((yield* keysUnder("memory")).length, 0)
      yield* Effect.gen(function*() {
        // the cache's L2 answers the repeat, the limiter remembers the spent request, the conversation is there
        assert.isTrue((yield* (yield* Llm).generate(question)).meta.cached)
        const refused = yield* Effect.flip((yield* RateLimiter).check("app-key"))
        assert.strictEqual(refused._tag, "RateLimited")
        const messages = yield* (yield* ConversationMemory).messages("c-1")
        assert.deepStrictEqual(messages.map((m) => m.content), ["remember me", "I will"])
      }).pipe(Effect.provide(app()))
    }).pipe(
      Effect.ensuring(Effect.ignore(cleanupRedisPrefix(prefix))),
      Effect.provide(NodeRedis.layer({ url: redisUrl })),
      Effect.scoped
    )
  }, 20_000)
})
