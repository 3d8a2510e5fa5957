/**
 * Cached answers are erasable per subject (ResponseCacheStep, issue 13 §4): with a `SubjectIndex` in the context,
 * each entry stored or served for a call made for a subject (`options.tenant` + `options.subject`) is linked to it;
 * when the link cannot be made the answer is not stored; a full index gives up its oldest cache link with its entry.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Stream } from "effect"
import { Cache } from "../../src/cache/index.ts"
import { SubjectIndex } from "../../src/identity/SubjectIndex.ts"
import type { LlmCallInput } from "../../src/pipeline/index.ts"
import { Llm, LlmPipeline } from "../../src/pipeline/index.ts"
import { CountingProvider, withPipelineDeps } from "./support.ts"

const ask = (content: string, options?: Record<string, unknown>): LlmCallInput =>
  ({ model: "fast", messages: [{ role: "user", content }], ...(options ? { options } : {}) }) as LlmCallInput

const run = <A, E>(
  maxRefs: number,
  f: (provider: CountingProvider) => Effect.Effect<A, E, Llm | SubjectIndex | Cache>
) => {
  const provider = new CountingProvider("primary")
  return f(provider).pipe(
    Effect.provide(
      LlmPipeline.layer({ retry: { jitter: 0 } }).pipe(
        withPipelineDeps([provider.provider], { extra: SubjectIndex.layerMemory({ maxRefs }) })
      )
    )
  )
}

describe("ResponseCacheStep: cached answers are erasable per subject", () => {
  it.effect("an entry stored or served for a subject is linked to it; a shared entry is linked to each subject; a call without a subject links nothing", () =>
    run(100, (provider) =>
      Effect.gen(function*() {
        const llm = yield* Llm
        const index = yield* SubjectIndex
        const cache = yield* Cache
        yield* llm.generate(ask("hello", { tenant: "acme", subject: "ana" }))
        const [key] = yield* index.refs("acme", "ana", "cache")
        assert.isDefined(key)
        assert.isTrue(Option.isSome(yield* cache.get(key!)))
        const served = yield* llm.generate(ask("hello", { tenant: "acme", subject: "ben" }))
        assert.isTrue(served.meta.cached)
        assert.strictEqual(provider.calls, 1)
        assert.deepStrictEqual(yield* index.refs("acme", "ben", "cache"), [key!])
        yield* llm.generate(ask("no subject here", { tenant: "acme" }))
        yield* llm.generate(ask("no tenant here", { subject: "ana" }))
        assert.deepStrictEqual(yield* index.refs("acme", "ana", "cache"), [key!])
      })))

  it.effect("not linked, not stored: with the index full of conversation links the answer is returned but not cached", () =>
    run(1, (provider) =>
      Effect.gen(function*() {
        const llm = yield* Llm
        const index = yield* SubjectIndex
        yield* index.link("acme", "someone", "memory", "conv-1")
        yield* llm.generate(ask("hello", { tenant: "acme", subject: "ana" }))
        const again = yield* llm.generate(ask("hello", { tenant: "acme", subject: "ana" }))
        assert.isFalse(again.meta.cached)
        assert.strictEqual(provider.calls, 2)
        // without a subject the same call is cached as before
        yield* llm.generate(ask("hello"))
        assert.isTrue((yield* llm.generate(ask("hello"))).meta.cached)
      })))

  it.effect("a full index gives up its oldest cache link together with its entry: the evicted answer is a miss", () =>
    run(1, (provider) =>
      Effect.gen(function*() {
        const llm = yield* Llm
        const index = yield* SubjectIndex
        yield* llm.generate(ask("first", { tenant: "acme", subject: "ana" }))
        yield* llm.generate(ask("second", { tenant: "acme", subject: "ben" }))
        assert.deepStrictEqual(yield* index.refs("acme", "ana", "cache"), [])
        assert.strictEqual((yield* index.refs("acme", "ben", "cache")).length, 1)
        const first = yield* llm.generate(ask("first", { tenant: "acme", subject: "cleo" }))
        assert.isFalse(first.meta.cached)
        assert.strictEqual(provider.calls, 3)
      })))

  it.effect("a streamed answer stored for a subject is linked too", () =>
    run(100, () =>
      Effect.gen(function*() {
        const llm = yield* Llm
        const index = yield* SubjectIndex
        yield* Stream.runDrain(llm.stream(ask("stream me", { tenant: "acme", subject: "dora" })))
        assert.strictEqual((yield* index.refs("acme", "dora", "cache")).length, 1)
      })))
})
