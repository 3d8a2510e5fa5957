import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Result } from "effect"
import * as fc from "fast-check"
import type {
  ModelAlias,
  ModelAliases,
  ModelKind,
  ModelLookupError,
  ModelParams,
  ResolvedModel
} from "../../src/config/index.ts"
import {
  ConfigStore,
  MAX_ALIAS_CHAIN,
  MAX_MODEL_ALIASES,
  ModelAliasCycle,
  ModelKinds,
  parseModelSpec,
  resolveModel,
  UnknownModelAlias
} from "../../src/config/index.ts"
import { buildModelTable, modelAliasIssues } from "../../src/config/ModelResolution.ts"
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

/** The straightforward resolver (one walk per alias, a linear scan for cycles), as a reference for the fast one. */
const naiveResolve = (
  aliases: ModelAliases,
  providers: ReadonlySet<string>,
  requested: string
): Result.Result<ResolvedModel, ModelLookupError> => {
  const chain: Array<string> = []
  const entries: Array<ModelAlias> = []
  let target = requested
  while (Object.hasOwn(aliases, target)) {
    if (chain.includes(target)) return Result.fail(new ModelAliasCycle({ cycle: [...chain, target] }))
    const entry = aliases[target] as ModelAlias // hasOwn above
    chain.push(target)
    entries.push(entry)
    target = typeof entry === "string" ? entry : entry.model
  }
  if (!target.includes(":")) {
    return Result.fail(new UnknownModelAlias({ alias: target, known: Object.keys(aliases).sort() }))
  }
  const parsed = parseModelSpec(target, providers)
  if (Result.isFailure(parsed)) return Result.fail(parsed.failure)
  const params: { [K in ModelKind]: ModelParams } = { text: {}, object: {}, stream: {} }
  for (const entry of entries.toReversed()) {
    if (typeof entry === "string") continue
    for (const kind of ModelKinds) params[kind] = { ...params[kind], ...entry.params, ...entry[kind] }
  }
  return Result.succeed({ requested, chain, ...parsed.success, params })
}

type Outcome = { readonly ok: ResolvedModel } | { readonly error: string; readonly message: string }
const outcomeOfResult = (r: Result.Result<ResolvedModel, { _tag: string; message: string }>): Outcome =>
  Result.isSuccess(r) ? { ok: r.success } : { error: r.failure._tag, message: r.failure.message }
const outcomeOfExit = (e: Exit.Exit<ResolvedModel, { _tag: string; message: string }> | undefined): Outcome => {
  if (e === undefined) return { error: "missing", message: "" }
  if (Exit.isSuccess(e)) return { ok: e.value }
  const reason = e.cause.reasons[0]
  return reason?._tag === "Fail"
    ? { error: reason.error._tag, message: reason.error.message }
    : { error: "?", message: "" }
}

const names = ["a", "b", "c", "d", "e", "f"]
const aliasGraph: fc.Arbitrary<ModelAliases> = fc.dictionary(
  fc.constantFrom(...names),
  fc.oneof(
    fc.constantFrom(...names, "openai:gpt-4o", "groq:llama", "nowhere:m", "ghost", ":empty"),
    fc.record({
      model: fc.constantFrom(...names, "openai:gpt-4o", "ghost"),
      params: fc.option(fc.record({ temperature: fc.constantFrom(0.1, 0.5) }), { nil: undefined }),
      text: fc.option(fc.record({ maxTokens: fc.constantFrom(10, 20) }), { nil: undefined })
    }).map((o): ModelAlias =>
      // the optional keys fast-check left undefined are dropped (exactOptionalPropertyTypes)
      Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as ModelAlias
    )
  ),
  { maxKeys: names.length }
)

describe("alias resolution in linear time", () => {
  it("the alias table and the alias issues equal a naive per-alias resolution, cycles included", () => {
    fc.assert(
      fc.property(aliasGraph, (aliases) => {
        const table = buildModelTable(aliases, providers)
        const issues = modelAliasIssues(aliases, providers)
        const expectedIssues: Array<{ path: string; message: string }> = []
        for (const alias of Object.keys(aliases).sort()) {
          const expected = naiveResolve(aliases, providers, alias)
          assert.deepStrictEqual(outcomeOfExit(table.get(alias)), outcomeOfResult(expected))
          assert.deepStrictEqual(outcomeOfResult(resolveModel(aliases, providers, alias)), outcomeOfResult(expected))
          if (Result.isFailure(expected)) {
            const entry = aliases[alias]
            const field = entry !== undefined && typeof entry !== "string" ? ".model" : ""
            expectedIssues.push({ path: `models.${alias}${field}`, message: expected.failure.message })
          }
        }
        assert.strictEqual(table.size, Object.keys(aliases).length)
        assert.deepStrictEqual(issues, expectedIssues)
      }),
      { numRuns: 500 }
    )
  })

  it.effect("more than MAX_MODEL_ALIASES aliases is a validation issue at models", () =>
    Effect.gen(function*() {
      const store = yield* ConfigStore
      const models: Record<string, string> = {}
      for (let i = 0; i <= MAX_MODEL_ALIASES; i++) models[`m${i}`] = "openai:gpt-4o"
      const error = yield* Effect.flip(store.patch({ models }))
      assert.deepStrictEqual(error.issues.map((i) => i.path), ["models"])
      assert.include(error.issues[0]?.message ?? "", `at most ${MAX_MODEL_ALIASES} model aliases`)
    }).pipe(Effect.provide(storeLayer())))

  it.effect("an alias chain longer than MAX_ALIAS_CHAIN aliases is a validation issue naming the alias", () =>
    Effect.gen(function*() {
      const store = yield* ConfigStore
      const chainOf = (length: number) => {
        const models: Record<string, string> = {}
        for (let i = 0; i < length - 1; i++) models[`c${i}`] = `c${i + 1}`
        models[`c${length - 1}`] = "openai:gpt-4o"
        return models
      }
      yield* store.patch({ models: chainOf(MAX_ALIAS_CHAIN) }) // exactly the cap: accepted
      assert.strictEqual((yield* store.getModelConfig("c0")).chain.length, MAX_ALIAS_CHAIN)
      yield* store.reset()
      const error = yield* Effect.flip(store.patch({ models: chainOf(MAX_ALIAS_CHAIN + 1) }))
      assert.deepStrictEqual(error.issues.map((i) => i.path), ["models.c0"])
      assert.include(error.issues[0]?.message ?? "", `longer than ${MAX_ALIAS_CHAIN} aliases`)
    }).pipe(Effect.provide(storeLayer())))
})
