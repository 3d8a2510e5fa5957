/** The in-process conversation memory: the shared conformance suite. */
import { assert, it } from "@effect/vitest"
import { Effect } from "effect"
import { DEFAULT_MAX_CONVERSATIONS, layerMemory, makeMemory } from "../../src/memory/index.ts"
import { ConversationMemory } from "../../src/memory/index.ts"
import { memoryConformance } from "./ConversationMemoryConformance.ts"

let n = 0
memoryConformance("memory", (options) => makeMemory(options), () => `conv-${++n}`)

it.effect("layerMemory provides the service", () =>
  Effect.gen(function*() {
    const memory = yield* ConversationMemory
    yield* memory.append("c", [{ role: "user", content: "hi" }])
    assert.strictEqual((yield* memory.messages("c")).length, 1)
    assert.strictEqual(memory.maxMessages, 5)
  }).pipe(Effect.provide(layerMemory({ maxMessages: 5 }))))

it.effect("the in-process memory keeps at most maxConversations, forgetting the least recently used", () =>
  Effect.gen(function*() {
    const memory = yield* makeMemory({ maxConversations: 3 })
    for (const id of ["a", "b", "c"]) yield* memory.append(id, [{ role: "user", content: id }])
    yield* memory.messages("a") // a read marks "a" used: "b" is now the least recently used
    yield* memory.append("d", [{ role: "user", content: "d" }])
    assert.deepStrictEqual((yield* memory.messages("b")).length, 0)
    for (const id of ["a", "c", "d"]) assert.strictEqual((yield* memory.messages(id)).length, 1)
    assert.strictEqual((yield* memory.stats).evictedConversations, 1)
  }))

it.effect("the default bound: 10,000 conversations", () =>
  Effect.gen(function*() {
    const memory = yield* makeMemory()
    for (let i = 0; i < DEFAULT_MAX_CONVERSATIONS + 5; i++) {
      yield* memory.append(`c-${i}`, [{ role: "user", content: "x" }])
    }
    assert.strictEqual((yield* memory.stats).evictedConversations, 5)
    assert.strictEqual((yield* memory.messages("c-0")).length, 0)
  }))

it.effect("maxConversations is validated (typed error naming the option)", () =>
  Effect.gen(function*() {
    const error = yield* Effect.flip(makeMemory({ maxConversations: 0 }))
    assert.strictEqual(error.path, "maxConversations")
  }))

it.effect("a batch of any size appended to an existing conversation keeps its last N (200,000 messages, no crash)", () =>
  Effect.gen(function*() {
    const memory = yield* makeMemory({ maxMessages: 3 })
    yield* memory.append("big", [{ role: "user", content: "first" }])
    const batch = Array.from({ length: 200_000 }, (_, i) => ({ role: "user" as const, content: `m${i}` }))
    yield* memory.append("big", batch)
    assert.deepStrictEqual((yield* memory.messages("big")).map((m) => m.content), ["m199997", "m199998", "m199999"])
    yield* memory.append("big", [{ role: "user", content: "last" }])
    assert.deepStrictEqual((yield* memory.messages("big")).map((m) => m.content), ["m199998", "m199999", "last"])
  }))
