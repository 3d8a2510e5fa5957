/**
 * ConfigStore walkthrough: source precedence, an invalid update rejected with every path, a valid patch, the
 * change stream, and a live reload after the config file changes. Runs offline; writes a temp file only.
 *
 *   node examples/config-reload.ts
 */
import { Effect, Fiber, Layer, Logger, Stream } from "effect"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ConfigEvents, ConfigStore, formatIssues } from "../src/config/index.ts"

const dir = mkdtempSync(join(tmpdir(), "troupe-config-"))
const file = join(dir, "troupe.json")
const writeConfig = (config: unknown) => writeFileSync(file, JSON.stringify(config, null, 2))

writeConfig({
  providers: { openai: { timeout: 20_000, maxRetries: 1 }, anthropic: { timeout: 45_000 } },
  models: { fast: "quick", quick: "groq:llama-3.1-8b-instant" }
})

// An explicit environment (a real deployment would leave `env` out and read process.env)
const env: Record<string, string | undefined> = {
  TROUPE_CONFIG: file,
  OPENAI_API_KEY: "sk-example-not-a-real-key-000000",
  TROUPE_PROVIDERS__OPENAI__TIMEOUT: "30000"
}

const program = Effect.gen(function*() {
  const store = yield* ConfigStore
  const changes = yield* store.subscribe
  const watcher = yield* changes.pipe(
    Stream.take(2), // the patch and the reload (a rejected update is not a change)
    Stream.runForEach((c) => Effect.log(`change #${c.version} (${c.operation}): ${c.paths.join(", ")}`)),
    Effect.forkChild({ startImmediately: true })
  )

  yield* Effect.log("--- precedence: defaults < file < env < runtime")
  for (
    const path of [
      "providers.openai.timeout",
      "providers.openai.maxRetries",
      "providers.anthropic.timeout",
      "providers.openai.baseUrl"
    ]
  ) {
    const origin = yield* store.origin(path)
    yield* Effect.log(`${path} comes from ${origin ?? "a schema default"}`)
  }
  const openai = yield* store.getProviderConfig("openai")
  yield* Effect.log(`openai: timeout=${openai.timeout} maxRetries=${openai.maxRetries} apiKey=${String(openai.apiKey)}`)
  const fast = yield* store.getModelConfig("fast")
  yield* Effect.log(`${fast.chain.join(" -> ")} -> ${fast.provider}:${fast.model}`)

  yield* Effect.log("--- an invalid update is rejected with every error and its path; nothing changes")
  const rejected = yield* Effect.flip(store.patch({
    providers: { openai: { timeout: -1, apiKey: "not-a-valid-key" }, selfhosted: { maxRetries: 3 } },
    models: { fast: "fast" }
  }))
  yield* Effect.log(`${rejected._tag} (${rejected.issues.length} issues):\n${formatIssues(rejected.issues)}`)
  yield* Effect.log(`openai timeout still ${(yield* store.getProviderConfig("openai")).timeout}`)

  yield* Effect.log("--- a valid patch")
  yield* store.patch({
    providers: { selfhosted: { baseUrl: "http://10.0.0.5:8000/v1", maxRetries: 3 } },
    models: { capable: { model: "selfhosted:qwen2.5-72b", text: { temperature: 0.2 } } }
  })
  const capable = yield* store.getModelConfig("capable")
  yield* Effect.log(
    `capable -> ${capable.provider}:${capable.model} text params ${JSON.stringify(capable.params.text)}`
  )

  yield* Effect.log("--- the file changes; reload() picks it up and keeps runtime updates on top")
  writeConfig({
    providers: { openai: { maxRetries: 4 }, anthropic: { timeout: 50_000 } },
    models: { fast: "openai:gpt-4o-mini" }
  })
  yield* store.reload()
  yield* Effect.log(
    `anthropic timeout now ${(yield* store.getProviderConfig("anthropic")).timeout}; ` +
      `selfhosted still configured: ${(yield* store.getProviderConfig("selfhosted")).baseUrl}`
  )

  yield* Fiber.join(watcher)
  const stats = yield* store.stats
  yield* Effect.log(
    `stats: version ${stats.version}, ${stats.committed} committed, ${stats.rejected} rejected, ` +
      `env vars used: ${stats.envVariables.join(", ")}`
  )
})

const events = Layer.succeed(ConfigEvents, {
  emit: (name, measurements, metadata) =>
    Effect.log(`event ${name.join(".")} ${JSON.stringify(measurements)} ${JSON.stringify(metadata)}`)
})

const logger = Logger.layer([Logger.make(({ message }) => {
  const parts = Array.isArray(message) ? message : [message]
  console.log(parts.map(String).join(" "))
})])

await Effect.runPromise(program.pipe(
  Effect.scoped,
  Effect.provide(ConfigStore.layerNode({ env }).pipe(Layer.provide(events))),
  Effect.provide(logger)
)).finally(() => rmSync(dir, { recursive: true, force: true }))
