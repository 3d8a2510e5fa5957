import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Layer, Logger, References, Stream } from "effect"
import * as util from "node:util"
import { ConfigEvents, ConfigStore, isSecretPath, validateConfig } from "../../src/config/index.ts"
import { storeLayer } from "./support.ts"

const CANARY = "LEAKCANARY"
const ENV_KEY = `sk-${CANARY}-env-0123456789abcdef`
const FILE_KEY = `sk-ant-${CANARY}-file-0123456789abcdef`
const HEADER = `Bearer ${CANARY}-header-0123456789abcdef`
const RUNTIME_KEY = `gsk_${CANARY}-runtime-0123456789abcdef`
const BAD_KEY = `not-a-key-${CANARY}-bad-0123456789abcdef`

/** Every rendering a secret could escape through. */
const renderings = (value: unknown): Array<string> => [
  String(value),
  `${JSON.stringify(value)}`,
  util.inspect(value, { depth: null, showHidden: true }),
  util.format("%o", value)
]

describe("secrets never printed", () => {
  it("knows which paths are secret", () => {
    assert.isTrue(isSecretPath(["providers", "openai", "apiKey"]))
    assert.isTrue(isSecretPath(["providers", "x", "headers", "Authorization"]))
    assert.isTrue(isSecretPath(["telemetry", "otlp", "headers", "api-key"]))
    assert.isFalse(isSecretPath(["providers", "openai", "baseUrl"]))
    assert.isFalse(isSecretPath(["providers", "openai", "headers"]))
  })

  it.effect("dump the config, bad-update errors, change events, telemetry events, logs and stats: no key", () => {
    const dumps: Array<string> = []
    const dump = (value: unknown) => dumps.push(...renderings(value))
    const files = new Map([[
      "/secrets.json",
      JSON.stringify({ providers: { anthropic: { apiKey: FILE_KEY }, openai: { headers: { Authorization: HEADER } } } })
    ]])
    const capture = Logger.make((options) => {
      dumps.push(util.inspect(options.message, { depth: null }), Cause.pretty(options.cause))
    })
    const events = Layer.succeed(ConfigEvents, {
      emit: (name, measurements, metadata) => Effect.sync(() => dump({ name, measurements, metadata }))
    })
    const failureDump = <A, E>(exit: Exit.Exit<A, E>) => {
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) {
        dumps.push(Cause.pretty(exit.cause))
        for (const reason of exit.cause.reasons) {
          if (reason._tag === "Fail") dump(reason.error)
          if (reason._tag === "Fail" && reason.error instanceof Error) dumps.push(reason.error.message)
        }
      }
    }

    return Effect.gen(function*() {
      const store = yield* ConfigStore
      const changes = yield* store.subscribe
      const collected = yield* changes.pipe(
        Stream.take(2),
        Stream.runCollect,
        Effect.forkChild({ startImmediately: true })
      )

      dump(yield* store.get)
      dump(yield* store.getProviderConfig("openai"))
      dump(yield* store.getProviderConfig("anthropic"))
      // bad updates that contain a key, in the key's field and in the wrong fields
      failureDump(yield* Effect.exit(store.update("providers.openai.apiKey", BAD_KEY)))
      failureDump(yield* Effect.exit(store.update("providers.openai.baseUrl", ENV_KEY)))
      failureDump(yield* Effect.exit(store.update("providers.openai.timeout", ENV_KEY)))
      failureDump(yield* Effect.exit(store.update("providers.openai.apiKey", { nested: BAD_KEY })))
      failureDump(
        yield* Effect.exit(store.patch({ providers: { [ENV_KEY]: { apiKey: ENV_KEY } }, cache: { backend: ENV_KEY } }))
      )
      failureDump(yield* Effect.exit(store.patch({ models: { fast: ENV_KEY } })))
      failureDump(yield* Effect.exit(validateConfig({ providers: { openai: { apiKey: BAD_KEY, baseUrl: BAD_KEY } } })))
      // valid changes: a runtime key and a rotated header
      dump(yield* store.patch({ providers: { groq: { apiKey: RUNTIME_KEY } } }))
      dump(yield* store.update("providers.openai.headers.Authorization", `${HEADER}-rotated`))
      // a broken file that contains a key
      files.set("/secrets.json", `{"providers":{"openai":{"apiKey":"${ENV_KEY}",}}}`)
      failureDump(yield* Effect.exit(store.reload()))
      dump(yield* store.stats)
      dump(yield* store.origin("providers.openai.apiKey"))
      dump(yield* store.get)
      for (const change of yield* Fiber.join(collected)) dump(change)

      const all = dumps.join("\n")
      assert.isAbove(dumps.length, 40)
      assert.include(all, "<redacted>") // the keys were there, rendered redacted
      assert.include(all, "providers.openai.apiKey") // errors name the path…
      assert.notInclude(all, CANARY) // …but never the key
    }).pipe(
      Effect.provide(
        storeLayer({
          configFile: "/secrets.json",
          files,
          env: { OPENAI_API_KEY: ENV_KEY }
        }).pipe(Layer.provide(events))
      ),
      Effect.provide([Logger.layer([capture]), Layer.succeed(References.MinimumLogLevel, "All")])
    )
  })
})
