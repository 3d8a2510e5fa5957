/**
 * Issue 11 §4 on the ConfigStore and the entry points of the cache, the rate limiter and the tool runner:
 * reserved path segments, prototype-free merges, hostile nesting and wrong-typed arguments fail typed, never throw.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, FileSystem, Layer, Option } from "effect"
import * as fc from "fast-check"
import { ToolRunner } from "../../src/agent/index.ts"
import { canonicalJson, CanonicalJsonTooDeep, makeMemory, makeResponseCache } from "../../src/cache/index.ts"
import { ConfigStore, validateConfig } from "../../src/config/index.ts"
import { wrapSecrets } from "../../src/config/SecretMasking.ts"
import { RateLimiter } from "../../src/ratelimit/index.ts"

const store = ConfigStore.layer({ env: () => ({}) }).pipe(Layer.provide(FileSystem.layerNoop({})))
const tagOf = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isFailure(exit)
    ? Option.getOrUndefined(Exit.findErrorOption(exit) as Option.Option<{ _tag: string }>)?._tag
    : "Success"

const deep = (n: number): unknown => {
  let v: unknown = "x"
  for (let i = 0; i < n; i++) v = { a: v }
  return v
}

describe("ConfigStore against hostile input (issue 11 §4)", () => {
  it.effect("__proto__, constructor and prototype path segments are rejected; later updates still work", () =>
    Effect.gen(function*() {
      const config = yield* ConfigStore
      for (const path of ["providers.openai.headers.__proto__", "providers.constructor", "models.prototype"]) {
        assert.strictEqual(tagOf(yield* Effect.exit(config.update(path, { x: "y" }))), "ConfigValidationError")
      }
      assert.strictEqual(
        tagOf(
          yield* Effect.exit(config.patch(JSON.parse(`{"providers":{"openai":{"headers":{"__proto__":{"a":"b"}}}}}`)))
        ),
        "ConfigValidationError"
      )
      // an invalid update is still rejected normally, and a valid one commits (no poisoned prototype)
      assert.strictEqual(
        tagOf(yield* Effect.exit(config.update("providers.openai.timeout", "soon"))),
        "ConfigValidationError"
      )
      yield* config.update("providers.openai.timeout", 1234)
      assert.strictEqual((yield* config.get).providers["openai"]?.timeout, 1234)
    }).pipe(Effect.provide(store)))

  it.effect("a non-string path, and 20,000 levels of nesting in update/patch/validate, fail typed", () =>
    Effect.gen(function*() {
      const config = yield* ConfigStore
      for (const path of [5, null, { a: 1 }, ["a", 1]] as ReadonlyArray<unknown>) {
        assert.strictEqual(tagOf(yield* Effect.exit(config.update(path as string, 1))), "ConfigValidationError")
      }
      assert.strictEqual(tagOf(yield* Effect.exit(config.update("security.x", deep(20_000)))), "ConfigValidationError")
      assert.strictEqual(
        tagOf(yield* Effect.exit(config.patch({ security: deep(20_000) as object }))),
        "ConfigValidationError"
      )
      assert.strictEqual(
        tagOf(yield* Effect.exit(config.validate({ security: deep(20_000) }))),
        "ConfigValidationError"
      )
      assert.strictEqual(tagOf(yield* Effect.exit(validateConfig({ budgets: deep(20_000) }))), "ConfigValidationError")
    }).pipe(Effect.provide(store)))

  it("wrapSecrets never recurses past the secret paths and builds prototype-free objects", () => {
    const out = wrapSecrets(deep(20_000)) as object
    assert.isNull(Object.getPrototypeOf(out))
    const wrapped = wrapSecrets(JSON.parse(`{"__proto__":{"polluted":true}}`)) as Record<string, unknown>
    assert.isTrue(Object.hasOwn(wrapped, "__proto__"))
    assert.isUndefined(({} as Record<string, unknown>)["polluted"])
  })

  it.effect("fuzz: update and patch never throw or die, whatever the path and value", () =>
    Effect.gen(function*() {
      const config = yield* ConfigStore
      const samples = fc.sample(
        fc.tuple(
          fc.oneof(fc.string(), fc.array(fc.string()), fc.anything()),
          fc.anything({ withNullPrototype: true, maxDepth: 4 })
        ),
        300
      )
      for (const [path, value] of samples) {
        const a = yield* Effect.exit(config.update(path as string, value))
        // a patch's keys are strings: a path that cannot be made one (a null-prototype object) is sent as a marker
        const key = (() => {
          try {
            return String(path)
          } catch {
            return "[object without toString]"
          }
        })()
        const b = yield* Effect.exit(config.patch({ [key]: value }))
        for (const exit of [a, b]) {
          assert.isTrue(
            Exit.isSuccess(exit) || Option.isSome(Exit.findErrorOption(exit)),
            "a typed failure or a success"
          )
        }
      }
      yield* config.reset()
    }).pipe(Effect.provide(store)))
})

describe("canonical JSON depth (issue 11 §4)", () => {
  it("canonicalJson refuses 20,000 levels with CanonicalJsonTooDeep (no stack overflow)", () => {
    assert.throws(() => canonicalJson(deep(20_000)), CanonicalJsonTooDeep)
    assert.strictEqual(canonicalJson(deep(10)), JSON.stringify(deep(10)))
  })

  it.effect("the response cache keys a too-deep request as InvalidResponseRequest", () =>
    Effect.gen(function*() {
      const cache = yield* makeMemory<unknown>()
      const responses = yield* makeResponseCache(cache)
      const exit = yield* Effect.exit(
        responses.keyOf({ provider: "p", model: "m", messages: [{ role: "user", content: [deep(20_000) as never] }] })
      )
      assert.strictEqual(tagOf(exit), "InvalidResponseRequest")
    }).pipe(Effect.scoped))
})

describe("wrong-typed arguments fail typed (issue 11 §4)", () => {
  it.effect("cache.put(k, v, null), non-string keys (then clear) fail with InvalidCacheOptions", () =>
    Effect.gen(function*() {
      const cache = yield* makeMemory<unknown>()
      assert.strictEqual(tagOf(yield* Effect.exit(cache.put("k", 1, null as never))), "InvalidCacheOptions")
      assert.strictEqual(tagOf(yield* Effect.exit(cache.put(5 as never, 1))), "InvalidCacheOptions")
      assert.strictEqual(tagOf(yield* Effect.exit(cache.has(5 as never))), "InvalidCacheOptions")
      assert.strictEqual(tagOf(yield* Effect.exit(cache.delete({} as never))), "InvalidCacheOptions")
      assert.strictEqual(
        tagOf(yield* Effect.exit(cache.getOrCompute(7 as never, Effect.succeed(1)))),
        "InvalidCacheOptions"
      )
      yield* cache.clear({ prefix: "" })
    }).pipe(Effect.scoped))

  it.effect("RateLimiter.check(k, null) fails with InvalidRateLimitInput", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter
      assert.strictEqual(
        tagOf(yield* Effect.exit(limiter.check("provider=openai|model=m", null as never))),
        "InvalidRateLimitInput"
      )
    }).pipe(Effect.provide(RateLimiter.layerMemory())))

  it.effect("ToolRunner.make with a bad timeout fails with InvalidAgentOptions", () =>
    Effect.gen(function*() {
      for (const timeout of ["soon", -5, {}, Number.NaN]) {
        const exit = yield* Effect.exit(ToolRunner.make({ tools: [], timeout: timeout as never }))
        assert.strictEqual(tagOf(exit), "InvalidAgentOptions")
      }
    }).pipe(Effect.scoped))
})
