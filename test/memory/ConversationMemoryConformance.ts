/**
 * The conformance suite every `ConversationMemory` layer passes: append and read in order, trimming to the last N
 * (LTRIM semantics, also across many appends, one oversized batch and a batch of 20,000), `last`, isolation between conversations,
 * clear, validation errors naming the field, and a round trip of every message shape.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import type { Scope } from "effect"
import type { LlmMessage } from "../../src/llm/index.ts"
import type { ConversationMemoryShape, MemoryError } from "../../src/memory/index.ts"

export type MakeMemory = (
  options: { readonly maxMessages?: number }
) => Effect.Effect<ConversationMemoryShape, MemoryError, Scope.Scope>

const user = (n: number): LlmMessage => ({ role: "user", content: `m${n}` })
const contents = (ms: ReadonlyArray<LlmMessage>) => ms.map((m) => m.content)

export const memoryConformance = (label: string, make: MakeMemory, conversation: () => string): void => {
  describe(`ConversationMemory conformance: ${label}`, () => {
    it.live("appends and reads in order; unknown conversations are empty", () =>
      Effect.gen(function*() {
        const memory = yield* make({})
        const id = conversation()
        assert.deepStrictEqual(yield* memory.messages(id), [])
        yield* memory.append(id, [user(1), user(2)])
        yield* memory.append(id, [user(3)])
        assert.deepStrictEqual(contents(yield* memory.messages(id)), ["m1", "m2", "m3"])
        assert.strictEqual(memory.maxMessages, 100)
      }))

    it.live("keeps only the last N messages (LTRIM semantics), across appends and in one big batch", () =>
      Effect.gen(function*() {
        const memory = yield* make({ maxMessages: 3 })
        const a = conversation()
        for (let i = 1; i <= 5; i++) yield* memory.append(a, [user(i)])
        assert.deepStrictEqual(contents(yield* memory.messages(a)), ["m3", "m4", "m5"])
        const b = conversation()
        yield* memory.append(b, Array.from({ length: 7 }, (_, i) => user(i + 1)))
        assert.deepStrictEqual(contents(yield* memory.messages(b)), ["m5", "m6", "m7"])
      }))

    it.live(
      "one batch of 20,000 messages keeps the last N, also when N is above the batch size",
      () =>
        Effect.gen(function*() {
          const batch = Array.from({ length: 20_000 }, (_, i) => user(i + 1))
          const trimmed = yield* make({})
          const a = conversation()
          yield* trimmed.append(a, batch)
          const kept = yield* trimmed.messages(a)
          assert.strictEqual(kept.length, 100)
          assert.deepStrictEqual([kept[0]?.content, kept[99]?.content], ["m19901", "m20000"])
          const large = yield* make({ maxMessages: 50_000 })
          const b = conversation()
          yield* large.append(b, [user(0)])
          yield* large.append(b, batch)
          const all = yield* large.messages(b)
          assert.strictEqual(all.length, 20_001)
          assert.deepStrictEqual(contents(all), ["m0", ...contents(batch)])
        }),
      30_000
    )

    it.live("the default keeps 100", () =>
      Effect.gen(function*() {
        const memory = yield* make({})
        const id = conversation()
        yield* memory.append(id, Array.from({ length: 130 }, (_, i) => user(i + 1)))
        const kept = yield* memory.messages(id)
        assert.strictEqual(kept.length, 100)
        assert.strictEqual(kept[0]?.content, "m31")
      }))

    it.live("`last` returns only the most recent messages", () =>
      Effect.gen(function*() {
        const memory = yield* make({})
        const id = conversation()
        yield* memory.append(id, [user(1), user(2), user(3), user(4)])
        assert.deepStrictEqual(contents(yield* memory.messages(id, { last: 2 })), ["m3", "m4"])
        assert.deepStrictEqual(contents(yield* memory.messages(id, { last: 10 })), ["m1", "m2", "m3", "m4"])
      }))

    it.live("conversations are isolated; clear forgets one", () =>
      Effect.gen(function*() {
        const memory = yield* make({})
        const a = conversation(), b = conversation()
        yield* memory.append(a, [user(1)])
        yield* memory.append(b, [user(2)])
        yield* memory.clear(a)
        assert.deepStrictEqual(yield* memory.messages(a), [])
        assert.deepStrictEqual(contents(yield* memory.messages(b)), ["m2"])
      }))

    it.live("every message shape round-trips", () =>
      Effect.gen(function*() {
        const memory = yield* make({})
        const id = conversation()
        const all: ReadonlyArray<LlmMessage> = [
          { role: "system", content: "be terse" },
          { role: "user", content: "weather?", name: "ada" },
          {
            role: "assistant",
            content: "",
            toolCalls: [{ id: "c1", name: "get_weather", arguments: { city: "Oslo", n: [1, 2] } }]
          },
          { role: "tool", toolCallId: "c1", name: "get_weather", content: "{\"tempC\":-3}", isError: false },
          { role: "assistant", content: "It is -3 °C in Oslo. ❄️" }
        ]
        yield* memory.append(id, all)
        assert.deepStrictEqual(yield* memory.messages(id), all)
      }))

    it.live("bad input fails with InvalidMemoryInput naming the field", () =>
      Effect.gen(function*() {
        const memory = yield* make({})
        const badId = yield* Effect.flip(memory.append("", [user(1)]))
        assert.deepStrictEqual([badId._tag, badId._tag === "InvalidMemoryInput" ? badId.path : ""], [
          "InvalidMemoryInput",
          "conversationId"
        ])
        const badMessage = yield* Effect.flip(
          memory.append(conversation(), [user(1), { role: "robot", content: "x" } as never])
        )
        assert.strictEqual(
          badMessage._tag === "InvalidMemoryInput" ? badMessage.path.startsWith("messages[1]") : false,
          true
        )
        const badLast = yield* Effect.flip(memory.messages(conversation(), { last: 0 }))
        assert.strictEqual(badLast._tag === "InvalidMemoryInput" ? badLast.path : "", "last")
        const badMax = yield* Effect.flip(make({ maxMessages: -1 }))
        assert.strictEqual(badMax._tag === "InvalidMemoryInput" ? badMax.path : "", "maxMessages")
      }))
  })
}
