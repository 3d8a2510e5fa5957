/**
 * Conversation memory benchmarks (issue 11: every in-memory store has a default bound and a figure for bytes per
 * key at the bound):
 * - `floor.map.bytes-per-conversation`: a plain `Map<string, Array<message>>` holding 10,000 conversations of two
 *   messages (a user turn and an assistant answer), the least a process can keep them in.
 * - `memory.bytes-per-conversation`: `ConversationMemory.layerMemory()` with its defaults (`maxConversations`
 *   10,000, `maxMessages` 100) after 15,000 conversations of the same two messages were appended, per conversation
 *   held at the bound (baseline: the plain map).
 */
import { Effect } from "effect"
import type { LlmMessage } from "../src/llm/index.ts"
import { DEFAULT_MAX_CONVERSATIONS } from "../src/memory/ConversationMemory.ts"
import { makeMemory } from "../src/memory/MemoryBackend.ts"
import type { BenchRow } from "./harness.ts"
import { bytesPer } from "./harness.ts"

const turn = (i: number): ReadonlyArray<LlmMessage> => [
  { role: "user", content: `What is the weather in city ${i}?` },
  { role: "assistant", content: `It is sunny in city ${i}.` }
]

export default async (): Promise<ReadonlyArray<BenchRow>> => {
  const floor = await bytesPer(
    "floor.map.bytes-per-conversation",
    DEFAULT_MAX_CONVERSATIONS,
    async (count) => {
      const map = new Map<string, Array<LlmMessage>>()
      for (let i = 0; i < count; i++) map.set(`conversation:${i}`, [...turn(i)])
      return map
    },
    async () => {},
    { note: "plain Map of 10,000 conversations, two messages each" }
  )
  const memory = await bytesPer(
    "memory.bytes-per-conversation",
    DEFAULT_MAX_CONVERSATIONS,
    async (count) => {
      const m = Effect.runSync(makeMemory())
      Effect.runSync(Effect.gen(function*() {
        for (let i = 0; i < count * 1.5; i++) yield* m.append(`conversation:${i}`, turn(i))
      }))
      return m
    },
    async () => {},
    {
      baseline: "floor.map.bytes-per-conversation",
      note: "layerMemory() defaults (10,000 conversations) after 15,000 appended, per conversation held"
    }
  )
  return [floor, memory]
}
