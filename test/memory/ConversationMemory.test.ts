/** The in-process conversation memory: the shared conformance suite. */
import { layerMemory, makeMemory } from "../../src/memory/index.ts"
import { ConversationMemory } from "../../src/memory/index.ts"
import { assert, it } from "@effect/vitest"
import { Effect } from "effect"
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
