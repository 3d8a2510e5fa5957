/** Tests of the LLM response cache over the memory cache. */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option, Ref } from "effect"
import { TestClock } from "effect/testing"
import { Cache } from "../../src/cache/Cache.ts"
import { ResponseCache } from "../../src/cache/ResponseCache.ts"
import type { ResponseKeyInput } from "../../src/cache/ResponseKey.ts"

interface Reply {
  readonly text: string
  readonly tokens: number
}
const ask = (model: string, question: string): ResponseKeyInput => ({
  provider: "anthropic",
  model,
  messages: [{ role: "user", content: question }],
  params: { temperature: 0 }
})
const Live = ResponseCache.layer({ normalizeWhitespace: true, tokensOf: (r) => (r as Reply).tokens }).pipe(
  Layer.provideMerge(Cache.layerMemory({ namespaces: { llm: { ttl: "1 hour" } }, sweepInterval: "1 hour" }))
)

describe("ResponseCache", () => {
  it.effect("caches answers, single-flights identical requests, counts saved tokens, honours the namespace TTL", () =>
    Effect.gen(function*() {
      const responses = yield* ResponseCache
      const calls = yield* Ref.make(0)
      const model = (text: string) => Ref.update(calls, (n) => n + 1).pipe(Effect.as<Reply>({ text, tokens: 50 }))
      const [a, b] = yield* Effect.all(
        [
          responses.cached(ask("claude", "Hi"), model("hello")),
          responses.cached(ask("claude", "  Hi "), model("other"))
        ],
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual([a, b], [{ text: "hello", tokens: 50 }, { text: "hello", tokens: 50 }])
      assert.strictEqual(yield* responses.cached(ask("claude", "Hi"), model("again")), a)
      assert.strictEqual(yield* Ref.get(calls), 1)
      const stats = yield* responses.stats()
      assert.strictEqual(stats.tokensSaved, 50)
      assert.strictEqual(stats.coalesced, 1)
      yield* TestClock.adjust("1 hour")
      assert.isTrue(Option.isNone(yield* responses.lookup(ask("claude", "Hi"))))
    }).pipe(Effect.provide(Live)))

  it.effect("bypass skips the cache, refresh recomputes and stores", () =>
    Effect.gen(function*() {
      const responses = yield* ResponseCache
      yield* responses.cached(ask("claude", "Q"), Effect.succeed({ text: "v1", tokens: 1 }))
      const bypassed = yield* responses.cached(ask("claude", "Q"), Effect.succeed({ text: "live", tokens: 1 }), {
        bypass: true
      })
      assert.deepStrictEqual(bypassed, { text: "live", tokens: 1 })
      assert.deepStrictEqual(yield* responses.lookup(ask("claude", "Q")), Option.some({ text: "v1", tokens: 1 }))
      yield* responses.cached(ask("claude", "Q"), Effect.succeed({ text: "v2", tokens: 1 }), { refresh: true })
      assert.deepStrictEqual(yield* responses.lookup(ask("claude", "Q")), Option.some({ text: "v2", tokens: 1 }))
    }).pipe(Effect.provide(Live)))

  it.effect("a response computed while its model was invalidated is returned but not stored (cached and refresh)", () =>
    Effect.gen(function*() {
      const responses = yield* ResponseCache
      const invalidating = (text: string) =>
        Effect.andThen(responses.invalidateModel("claude"), Effect.succeed<Reply>({ text, tokens: 1 }))
      const computed = yield* responses.cached(ask("claude", "Q"), invalidating("v1"))
      assert.deepStrictEqual(computed, { text: "v1", tokens: 1 })
      assert.isTrue(Option.isNone(yield* responses.lookup(ask("claude", "Q"))))
      const refreshed = yield* responses.cached(ask("claude", "Q"), invalidating("v2"), { refresh: true })
      assert.deepStrictEqual(refreshed, { text: "v2", tokens: 1 })
      assert.isTrue(Option.isNone(yield* responses.lookup(ask("claude", "Q"))))
    }).pipe(Effect.provide(Live)))

  it.effect("invalidateModel drops exactly that model's responses", () =>
    Effect.gen(function*() {
      const responses = yield* ResponseCache
      const cache = yield* Cache
      yield* responses.warm([
        { request: ask("claude", "a"), response: { text: "1", tokens: 1 } },
        { request: ask("claude", "b"), response: { text: "2", tokens: 1 } },
        { request: ask("claude-2", "a"), response: { text: "3", tokens: 1 } }
      ])
      yield* cache.put("other:thing", "kept")
      yield* responses.invalidateModel("claude")
      assert.isTrue(Option.isNone(yield* responses.lookup(ask("claude", "a"))))
      assert.isTrue(Option.isNone(yield* responses.lookup(ask("claude", "b"))))
      assert.isTrue(Option.isSome(yield* responses.lookup(ask("claude-2", "a"))))
      assert.isTrue(yield* cache.has("other:thing"))
    }).pipe(Effect.provide(Live)))

  it.effect("preload computes only the missing responses", () =>
    Effect.gen(function*() {
      const responses = yield* ResponseCache
      yield* responses.warm([{ request: ask("claude", "known"), response: { text: "k", tokens: 1 } }])
      const computed = yield* responses.preload(
        [ask("claude", "known"), ask("claude", "new-1"), ask("claude", "new-2")],
        (request) => Effect.succeed({ text: `answer to ${JSON.stringify(request.messages[0]?.content)}`, tokens: 3 })
      )
      assert.strictEqual(computed, 2)
      assert.isTrue(Option.isSome(yield* responses.lookup(ask("claude", "new-2"))))
      const bad = yield* Effect.flip(
        responses.cached({ ...ask("claude", "x"), provider: "" }, Effect.succeed({ text: "", tokens: 0 }))
      )
      assert.strictEqual(bad._tag === "InvalidResponseRequest" ? bad.path : bad._tag, "provider")
    }).pipe(Effect.provide(Live)))
})
