import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Logger, Option, Redacted, References, Stream } from "effect"
import type { ConfigChange } from "../../src/config/index.ts"
import { CHANGE_FEED_CAPACITY, ConfigEvents, ConfigStore } from "../../src/config/index.ts"
import { storeLayer } from "./support.ts"

const KEY_FILE = "sk-file-0000000000000000"
const KEY_ENV = "sk-env-1111111111111111"
const KEY_TROUPE = "sk-troupe-22222222222222"

const layeredFile = JSON.stringify({
  providers: {
    openai: { apiKey: KEY_FILE, timeout: 1000, maxRetries: 1 },
    anthropic: { timeout: 2000 },
    "my-proxy": { baseUrl: "https://proxy.internal/v1" }
  },
  models: { fast: "quick", quick: "groq:llama-3.1-8b-instant" }
})

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  const error = exit.cause.reasons.find((r) => r._tag === "Fail")
  if (error === undefined || error._tag !== "Fail") throw new Error("expected a typed failure")
  return error.error
}

const getStore = Effect.gen(function*() {
  return yield* ConfigStore
})

describe("ConfigStore sources and precedence", () => {
  it.effect("defaults alone give every built-in provider and the standard aliases", () =>
    Effect.gen(function*() {
      const store = yield* ConfigStore
      const config = yield* store.get
      assert.deepStrictEqual(
        Object.keys(config.providers).sort(),
        ["anthropic", "deepseek", "google", "groq", "mistral", "ollama", "openai", "xai"]
      )
      assert.strictEqual(config.providers.ollama?.baseUrl, "http://localhost:11434/v1")
      const fast = yield* store.getModelConfig("fast")
      assert.strictEqual(`${fast.provider}:${fast.model}`, "openai:gpt-4o-mini")
      assert.strictEqual(yield* store.origin("providers.openai.baseUrl"), "default")
      assert.strictEqual(yield* store.origin("providers.openai.timeout"), undefined) // schema default
      assert.strictEqual((yield* store.getProviderConfig("openai")).timeout, 60_000)
    }).pipe(Effect.provide(storeLayer())))

  it.effect("defaults < file < env (provider vars < TROUPE_ overrides) < runtime updates", () =>
    Effect.gen(function*() {
      const store = yield* ConfigStore
      let openai = yield* store.getProviderConfig("openai")
      assert.strictEqual(openai.timeout, 3000) // env override beats the file's 1000
      assert.strictEqual(openai.maxRetries, 1) // file beats the default 2
      assert.strictEqual(Redacted.value(openai.apiKey ?? Redacted.make("")), KEY_TROUPE) // TROUPE_ beats OPENAI_API_KEY
      assert.strictEqual((yield* store.getProviderConfig("anthropic")).timeout, 2000) // file
      assert.strictEqual(yield* store.origin("providers.openai.timeout"), "env")
      assert.strictEqual(yield* store.origin("providers.anthropic.timeout"), "file")

      yield* store.update("providers.openai.timeout", 4000)
      openai = yield* store.getProviderConfig("openai")
      assert.strictEqual(openai.timeout, 4000)
      assert.strictEqual(yield* store.origin("providers.openai.timeout"), "runtime")

      yield* store.reset("providers.openai.timeout")
      assert.strictEqual((yield* store.getProviderConfig("openai")).timeout, 3000)
      const stats = yield* store.stats
      assert.strictEqual(stats.configFile, "/etc/troupe.json")
      assert.deepStrictEqual(
        [...stats.envVariables].sort(),
        ["OPENAI_API_KEY", "TROUPE_PROVIDERS__OPENAI__API_KEY", "TROUPE_PROVIDERS__OPENAI__TIMEOUT"]
      )
    }).pipe(Effect.provide(storeLayer({
      files: new Map([["/etc/troupe.json", layeredFile]]),
      env: {
        TROUPE_CONFIG: "/etc/troupe.json",
        OPENAI_API_KEY: KEY_ENV,
        TROUPE_PROVIDERS__OPENAI__API_KEY: KEY_TROUPE,
        TROUPE_PROVIDERS__OPENAI__TIMEOUT: "3000"
      }
    }))))

  it.effect("the configFile option wins over TROUPE_CONFIG", () =>
    Effect.gen(function*() {
      const store = yield* ConfigStore
      assert.strictEqual((yield* store.stats).configFile, "/opt/b.json")
      assert.strictEqual((yield* store.getProviderConfig("openai")).timeout, 222)
    }).pipe(Effect.provide(storeLayer({
      configFile: "/opt/b.json",
      env: { TROUPE_CONFIG: "/opt/a.json" },
      files: new Map([
        ["/opt/a.json", JSON.stringify({ providers: { openai: { timeout: 111 } } })],
        ["/opt/b.json", JSON.stringify({ providers: { openai: { timeout: 222 } } })]
      ])
    }))))

  it.effect("a missing or malformed file fails the layer with ConfigSourceError", () =>
    Effect.gen(function*() {
      const missing = failureOf(yield* Effect.exit(Effect.provide(getStore, storeLayer({ configFile: "/nope.json" }))))
      assert.strictEqual(missing._tag, "ConfigSourceError")
      assert.include(missing.message, "/nope.json")
      const broken = failureOf(
        yield* Effect.exit(Effect.provide(
          getStore,
          storeLayer({
            configFile: "/bad.json",
            files: new Map([["/bad.json", `{"providers": {"openai": {"apiKey": "sk-oops-333" ]}}`]])
          })
        ))
      )
      assert.strictEqual(broken._tag, "ConfigSourceError")
      assert.include(broken.message, "invalid JSON")
      assert.notInclude(broken.message, "sk-oops-333")
    }))

  it.effect("an invalid initial configuration fails the layer with every issue", () =>
    Effect.gen(function*() {
      const error = failureOf(
        yield* Effect.exit(Effect.provide(
          getStore,
          storeLayer({
            env: { TROUPE_PROVIDERS__OPENAI__TIMEOUT: "0", TROUPE_CACHE__BACKEND: "disk" }
          })
        ))
      )
      assert.strictEqual(error._tag, "ConfigValidationError")
      if (error._tag !== "ConfigValidationError") return
      assert.deepStrictEqual(error.issues.map((i) => i.path), ["cache.backend", "providers.openai.timeout"])
      assert.strictEqual(error.operation, "initial")
    }))

  it.effect("a custom OpenAI-compatible provider from the file is found, env keys match it loosely", () =>
    Effect.gen(function*() {
      const store = yield* ConfigStore
      const proxy = yield* store.getProviderConfig("my-proxy")
      assert.strictEqual(proxy.baseUrl, "https://proxy.internal/v1")
      assert.strictEqual(proxy.timeout, 5000) // TROUPE_PROVIDERS__MY_PROXY__TIMEOUT matched "my-proxy"
      const unknown = failureOf(yield* Effect.exit(store.getProviderConfig("nope")))
      assert.strictEqual(unknown._tag, "UnknownProvider")
      assert.include(unknown.known, "my-proxy")
      assert.include(unknown.message, "openai")
    }).pipe(Effect.provide(storeLayer({
      configFile: "/c.json",
      files: new Map([["/c.json", layeredFile]]),
      env: { TROUPE_PROVIDERS__MY_PROXY__TIMEOUT: "5000" }
    }))))
})

describe("ConfigStore updates", () => {
  it.effect("an invalid patch is rejected with every error and path; the old config stays in force", () =>
    Effect.gen(function*() {
      const store = yield* ConfigStore
      const before = yield* store.get
      const exit = yield* Effect.exit(store.patch({
        providers: { openai: { timeout: -1, baseUrl: "ftp://x" }, groq: { maxRetries: 99 }, brandnew: {} },
        models: { fast: "nope" },
        telemetry: { reporterWindow: 0 }
      }))
      const error = failureOf(exit)
      assert.strictEqual(error._tag, "ConfigValidationError")
      assert.deepStrictEqual(error.issues.map((i) => i.path), [
        "models.fast",
        "providers.brandnew.baseUrl",
        "providers.groq.maxRetries",
        "providers.openai.baseUrl",
        "providers.openai.timeout",
        "telemetry.reporterWindow"
      ])
      assert.include(error.message, "unknown model alias \"nope\"")
      assert.strictEqual(yield* store.get, before)
      assert.strictEqual((yield* store.stats).version, 1)
      assert.strictEqual((yield* store.stats).rejected, 1)
      // the rejected patch left nothing behind in the runtime layer: a valid update commits alone
      const change = yield* store.update(["providers", "openai", "maxRetries"], 5)
      assert.deepStrictEqual(change.paths, ["providers.openai.maxRetries"])
      assert.strictEqual((yield* store.getProviderConfig("openai")).timeout, 60_000)
    }).pipe(Effect.provide(storeLayer())))

  it.effect("update rejects a bad path, a typo and an empty path with their paths", () =>
    Effect.gen(function*() {
      const store = yield* ConfigStore
      const typo = failureOf(yield* Effect.exit(store.update("providers.openai.timout", 5)))
      assert.deepStrictEqual(typo.issues, [{ path: "providers.openai.timout", message: "Expected no excess property" }])
      const empty = failureOf(yield* Effect.exit(store.update("", 5)))
      assert.strictEqual(empty.issues.length, 1)
      const wrongType = failureOf(yield* Effect.exit(store.update("cache.enabled", "yes")))
      assert.deepStrictEqual(wrongType.issues.map((i) => i.path), ["cache.enabled"])
    }).pipe(Effect.provide(storeLayer())))

  it.effect("null removes a field; a no-op update changes nothing", () =>
    Effect.gen(function*() {
      const store = yield* ConfigStore
      const policy = { tiers: [{ _tag: "FixedWindow", limit: 10, window: "1 second" }] }
      const added = yield* store.update("providers.openai.rateLimit", policy)
      assert.deepStrictEqual(added.paths, ["providers.openai.rateLimit.tiers"])
      const same = yield* store.update("providers.openai.rateLimit", {
        tiers: [{ _tag: "FixedWindow", limit: 10, window: 1000 }]
      })
      assert.deepStrictEqual(same.paths, []) // 1 second == 1000 ms
      assert.strictEqual(same.version, added.version)
      const removed = yield* store.update("providers.openai.rateLimit", null)
      assert.deepStrictEqual(removed.paths, ["providers.openai.rateLimit.tiers"])
      assert.isUndefined((yield* store.getProviderConfig("openai")).rateLimit)
    }).pipe(Effect.provide(storeLayer())))

  it.effect("concurrent writers never lose each other's updates", () =>
    Effect.gen(function*() {
      const store = yield* ConfigStore
      const names = ["openai", "anthropic", "google", "mistral", "groq", "deepseek", "ollama", "xai"]
      yield* Effect.forEach(names, (name, i) => store.update(["providers", name, "maxRetries"], i), {
        concurrency: "unbounded"
      })
      const config = yield* store.get
      assert.deepStrictEqual(names.map((n) => config.providers[n]?.maxRetries), [0, 1, 2, 3, 4, 5, 6, 7])
      assert.strictEqual((yield* store.stats).version, 1 + names.length - 1) // openai's 0 differs from 2, all commit
    }).pipe(Effect.provide(storeLayer())))

  it.effect("changes carry the changed paths of update, patch, reset and reload, in commit order", () =>
    Effect.gen(function*() {
      const store = yield* ConfigStore
      const changes = yield* store.subscribe
      const collected = yield* changes.pipe(
        Stream.take(3),
        Stream.runCollect,
        Effect.forkChild({ startImmediately: true })
      )
      yield* store.update("models.fast", "openai:gpt-4o")
      yield* store.update("models.fast", "openai:gpt-4o") // no-op: not published
      yield* store.patch({ cache: { maxEntries: 5 }, providers: { xai: { maxRetries: 0 } } })
      yield* store.reset()
      const seen: ReadonlyArray<ConfigChange> = yield* Fiber.join(collected)
      assert.deepStrictEqual(seen.map((c) => [c.operation, c.version, c.paths]), [
        ["update", 2, ["models.fast"]],
        ["patch", 3, ["cache.maxEntries", "providers.xai.maxRetries"]],
        ["reset", 4, ["cache.maxEntries", "models.fast", "providers.xai.maxRetries"]]
      ])
      assert.strictEqual(seen[0]?.config.models.fast, "openai:gpt-4o")
      assert.strictEqual(seen[0]?.previous.models.fast, "openai:gpt-4o-mini")
    }).pipe(Effect.provide(storeLayer())))

  it.effect("every change and rejection is emitted through ConfigEvents with paths only", () => {
    const emitted: Array<{ name: string; measurements: unknown; metadata: unknown }> = []
    const sink = Layer.succeed(ConfigEvents, {
      emit: (name, measurements, metadata) =>
        Effect.sync(() => {
          emitted.push({ name: name.join("."), measurements, metadata })
        })
    })
    return Effect.gen(function*() {
      const store = yield* ConfigStore
      yield* store.update("providers.openai.timeout", 1234)
      yield* Effect.exit(store.update("providers.openai.timeout", -5))
      assert.deepStrictEqual(emitted, [
        {
          name: "troupe.config.changed",
          measurements: { changed_paths: 1 },
          metadata: { paths: ["providers.openai.timeout"], source: "update", version: 2 }
        },
        {
          name: "troupe.config.rejected",
          measurements: { issues: 1 },
          metadata: { paths: ["providers.openai.timeout"], source: "update" }
        }
      ])
    }).pipe(Effect.provide(storeLayer().pipe(Layer.provide(sink))))
  })
})

describe("ConfigStore reload", () => {
  it.effect("re-reads file and env, keeps runtime updates on top, rejects broken sources atomically", () => {
    const files = new Map([[
      "/r.json",
      JSON.stringify({ providers: { openai: { timeout: 1000 } }, cache: { ttl: 10 } })
    ]])
    const env: Record<string, string | undefined> = { TROUPE_PROVIDERS__ANTHROPIC__TIMEOUT: "7000" }
    return Effect.gen(function*() {
      const store = yield* ConfigStore
      yield* store.update("cache.ttl", 99)
      files.set("/r.json", JSON.stringify({ providers: { openai: { timeout: 1500 } }, cache: { ttl: 20 } }))
      env.TROUPE_PROVIDERS__ANTHROPIC__TIMEOUT = "8000"
      env.GROQ_API_KEY = "gsk_reloaded000000000"
      const change = yield* store.reload()
      assert.deepStrictEqual(change.paths, [
        "providers.anthropic.timeout",
        "providers.groq.apiKey",
        "providers.openai.timeout"
      ])
      const config = yield* store.get
      assert.strictEqual(config.cache.ttl, 99) // runtime layer still on top
      assert.strictEqual(config.providers.openai?.timeout, 1500)
      assert.isTrue(Option.isSome(Option.fromUndefinedOr(config.providers.groq?.apiKey)))

      files.set("/r.json", "{ not json")
      const broken = failureOf(yield* Effect.exit(store.reload()))
      assert.strictEqual(broken._tag, "ConfigSourceError")
      files.set("/r.json", JSON.stringify({ providers: { openai: { timeout: "soon" } } }))
      const invalid = failureOf(yield* Effect.exit(store.reload()))
      assert.strictEqual(invalid._tag, "ConfigValidationError")
      assert.strictEqual(yield* store.get, config) // still the last good configuration
      assert.strictEqual((yield* store.stats).reloads, 2) // the broken read never got to validation
    }).pipe(Effect.provide(storeLayer({ configFile: "/r.json", files, env })))
  })
})

describe("ConfigStore change feed and paths", () => {
  it.effect("changed paths are listed with secrets masked: event, log line and stats", () => {
    const key = "sk-proj-PATHCANARYabcdefghijklmnopqrstuvwxyz0123456789"
    const seen: Array<string> = []
    const capture = Logger.make((options) => seen.push(String(options.message)))
    const sink = Layer.succeed(ConfigEvents, {
      emit: (name, measurements, metadata) =>
        Effect.sync(() => seen.push(JSON.stringify({ name, measurements, metadata })))
    })
    return Effect.gen(function*() {
      const store = yield* ConfigStore
      const tier = { _tag: "FixedWindow", name: "m", limit: 1, window: 1000 }
      yield* store.patch({ rateLimits: { [`apikey=${key}`]: { tiers: [tier] } } })
      seen.push(...(yield* store.stats).lastChangedPaths)
      assert.isAbove(seen.length, 2)
      assert.notInclude(seen.join("\n"), "PATHCANARY")
      assert.include(seen.join("\n"), "rateLimits.apikey=<redacted>")
    }).pipe(
      Effect.provide(storeLayer().pipe(Layer.provide(sink))),
      Effect.provide([Logger.layer([capture]), Layer.succeed(References.MinimumLogLevel, "All")])
    )
  })

  it.effect("a slow subscriber misses intermediate changes, never the latest", () =>
    Effect.gen(function*() {
      const store = yield* ConfigStore
      const changes = yield* store.subscribe
      let last = 0
      for (let i = 0; i < 3 * 256; i++) last = (yield* store.update("providers.openai.timeout", 1000 + i)).version
      const buffered = yield* changes.pipe(Stream.take(256), Stream.runCollect)
      assert.strictEqual(CHANGE_FEED_CAPACITY, 256)
      assert.strictEqual(buffered.at(-1)?.version, last)
      assert.strictEqual(buffered.at(-1)?.config.providers.openai?.timeout, 1000 + 3 * 256 - 1)
    }).pipe(Effect.scoped, Effect.provide(storeLayer())), 60_000)
})
