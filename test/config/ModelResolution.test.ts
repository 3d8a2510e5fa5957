import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Result } from "effect"
import type { ModelAliases } from "../../src/config/index.ts"
import { ConfigStore, parseModelSpec, resolveModel } from "../../src/config/index.ts"
import { storeLayer } from "./support.ts"

const providers = new Set(["openai", "groq", "ollama"])

const aliases: ModelAliases = {
  fast: { model: "quick", params: { temperature: 0.2 }, stream: { maxTokens: 256 } },
  quick: { model: "groq:llama-3.1-8b-instant", params: { temperature: 0.9, topP: 0.5 }, text: { timeout: 5000 } },
  local: "ollama:llama3:8b",
  a: "b",
  b: "c",
  c: "a",
  self: "self",
  dangling: "ghost",
  elsewhere: "nowhere:model-x"
}

const failure = <A, E>(result: Result.Result<A, E>): E => {
  if (Result.isSuccess(result)) throw new Error("expected a failure")
  return result.failure
}

describe("resolveModel", () => {
  it("follows a 2-hop alias chain and merges parameters, the nearest alias winning", () => {
    const resolved = Result.getOrThrow(resolveModel(aliases, providers, "fast"))
    assert.deepStrictEqual(resolved.chain, ["fast", "quick"])
    assert.strictEqual(resolved.provider, "groq")
    assert.strictEqual(resolved.model, "llama-3.1-8b-instant")
    assert.deepStrictEqual(resolved.params, {
      text: { temperature: 0.2, topP: 0.5, timeout: 5000 },
      object: { temperature: 0.2, topP: 0.5 },
      stream: { temperature: 0.2, topP: 0.5, maxTokens: 256 }
    })
  })

  it("splits provider:model at the first colon (model ids may contain colons)", () => {
    const resolved = Result.getOrThrow(resolveModel(aliases, providers, "local"))
    assert.strictEqual(resolved.provider, "ollama")
    assert.strictEqual(resolved.model, "llama3:8b")
    const direct = Result.getOrThrow(resolveModel(aliases, providers, "openai:gpt-4o"))
    assert.deepStrictEqual([direct.chain, direct.provider, direct.model], [[], "openai", "gpt-4o"])
  })

  it("detects cycles and reports the whole path", () => {
    const cycle = failure(resolveModel(aliases, providers, "a"))
    assert.strictEqual(cycle._tag, "ModelAliasCycle")
    if (cycle._tag !== "ModelAliasCycle") return
    assert.deepStrictEqual(cycle.cycle, ["a", "b", "c", "a"])
    assert.include(cycle.message, "a -> b -> c -> a")
    const self = failure(resolveModel(aliases, providers, "self"))
    assert.include(self.message, "self -> self")
  })

  it("an unknown alias fails with the known ones listed", () => {
    const unknown = failure(resolveModel(aliases, providers, "nope"))
    assert.strictEqual(unknown._tag, "UnknownModelAlias")
    if (unknown._tag !== "UnknownModelAlias") return
    assert.deepStrictEqual(unknown.known, Object.keys(aliases).sort())
    const dangling = failure(resolveModel(aliases, providers, "dangling"))
    assert.strictEqual(dangling._tag, "UnknownModelAlias")
    assert.include(dangling.message, "\"ghost\"")
  })

  it("rejects unconfigured providers and malformed specs", () => {
    assert.strictEqual(failure(resolveModel(aliases, providers, "elsewhere"))._tag, "UnknownProvider")
    assert.strictEqual(failure(parseModelSpec(":gpt", providers))._tag, "InvalidModelSpec")
    assert.strictEqual(failure(parseModelSpec("openai:", providers))._tag, "InvalidModelSpec")
  })
})

describe("ConfigStore.getModelConfig", () => {
  it.effect("resolves aliases from the precomputed table, and specs and errors on demand", () =>
    Effect.gen(function*() {
      const store = yield* ConfigStore
      yield* store.patch({
        models: { fast: { model: "quick", text: { temperature: 0 } }, quick: "groq:llama-3.1-8b-instant" }
      })
      const fast = yield* store.getModelConfig("fast")
      assert.deepStrictEqual([fast.provider, fast.model, fast.params.text], ["groq", "llama-3.1-8b-instant", {
        temperature: 0
      }])
      const spec = yield* store.getModelConfig("anthropic:claude-sonnet-4-5")
      assert.strictEqual(spec.provider, "anthropic")
      const unknown = yield* Effect.exit(store.getModelConfig("smart"))
      assert.isTrue(Exit.isFailure(unknown))
      const error = yield* Effect.flip(store.getModelConfig("smart"))
      assert.strictEqual(error._tag, "UnknownModelAlias")
      if (error._tag === "UnknownModelAlias") assert.include(error.known, "fast")
    }).pipe(Effect.provide(storeLayer())))

  it.effect("an update that would create a cycle is rejected with the cycle path; the table stays valid", () =>
    Effect.gen(function*() {
      const store = yield* ConfigStore
      yield* store.patch({ models: { a: "b", b: "openai:gpt-4o" } })
      const error = yield* Effect.flip(store.update("models.b", "a"))
      assert.deepStrictEqual(error.issues.map((i) => i.path), ["models.a", "models.b"])
      assert.include(error.issues[0]?.message ?? "", "a -> b -> a")
      const a = yield* store.getModelConfig("a")
      assert.deepStrictEqual([a.chain, a.model], [["a", "b"], "gpt-4o"])
    }).pipe(Effect.provide(storeLayer())))
})
