/**
 * The in-process conversation memory: a `Map` from conversation id to its last N messages, bounded to
 * `maxConversations` conversations (default 10,000) with least-recently-used eviction: an append or a read marks
 * a conversation used (the `Map`'s insertion order is the recency order), and past the bound the oldest is dropped
 * and counted in `stats.evictedConversations`.
 *
 * Appends trim from the front (RPUSH + LTRIM semantics, the same as the Redis layer, checked by one conformance
 * suite); a batch of any size appends, only its last N messages being kept. Everything is synchronous under the
 * hood; messages are kept as validated values (no encoding). Lost when the process ends — use `layerRedis` to share
 * or keep conversations.
 *
 * @since 0.1.0
 */
import { Effect, Layer } from "effect"
import type { LlmMessage } from "../llm/index.ts"
import type { ConversationMemoryShape, MemoryOptions } from "./ConversationMemory.ts"
import {
  checkCount,
  ConversationMemory,
  DEFAULT_MAX_CONVERSATIONS,
  DEFAULT_MAX_MESSAGES,
  fromStore
} from "./ConversationMemory.ts"
import type { InvalidMemoryInput } from "./MemoryError.ts"

/**
 * Builds an in-process memory. Fails with `InvalidMemoryInput` when `maxMessages` or `maxConversations` is not an
 * integer from 1 to 100,000,000.
 */
export const makeMemory = (options: MemoryOptions = {}): Effect.Effect<ConversationMemoryShape, InvalidMemoryInput> =>
  Effect.gen(function*() {
    const maxMessages = yield* checkCount(options.maxMessages ?? DEFAULT_MAX_MESSAGES, "maxMessages")
    const maxConversations = yield* checkCount(
      options.maxConversations ?? DEFAULT_MAX_CONVERSATIONS,
      "maxConversations"
    )
    const store = new Map<string, Array<LlmMessage>>()
    let evicted = 0
    /** The conversation's list, marked most recently used (moved to the end of the map's order). */
    const touch = (id: string): Array<LlmMessage> | undefined => {
      const list = store.get(id)
      if (list !== undefined) {
        store.delete(id)
        store.set(id, list)
      }
      return list
    }
    return fromStore(maxMessages, {
      append: (id, messages) =>
        Effect.sync(() => {
          const held = touch(id)
          // only the last maxMessages of a batch can be kept: the rest is never copied (a batch of any size)
          const kept = messages.slice(-maxMessages)
          if (held === undefined) {
            // a new conversation's list is exactly its messages (an empty array grown by push reserves ~17 slots)
            store.set(id, kept)
          } else {
            const drop = held.length + kept.length - maxMessages
            if (drop > 0) held.splice(0, Math.min(drop, held.length))
            // one by one: a spread of a large batch would overflow the call stack
            for (const message of kept) held.push(message)
          }
          while (store.size > maxConversations) {
            const oldest = store.keys().next()
            if (oldest.done === true) break
            store.delete(oldest.value)
            evicted++
          }
        }),
      messages: (id, last) =>
        Effect.sync(() => {
          const list = touch(id) ?? []
          return last === undefined ? [...list] : list.slice(-last)
        }),
      clear: (id) =>
        Effect.sync(() => {
          store.delete(id)
        }),
      stats: Effect.sync(() => ({ skippedUndecodable: 0, evictedConversations: evicted }))
    })
  })

/**
 * In-process conversation memory. Fails with `InvalidMemoryInput` when `maxMessages` or `maxConversations` is not an
 * integer from 1 to 100,000,000 (as `makeMemory`).
 *
 * @example
 * ```ts
 * program.pipe(Effect.provide(layerMemory({ maxMessages: 50 })))
 * ```
 */
export const layerMemory = (options: MemoryOptions = {}): Layer.Layer<ConversationMemory, InvalidMemoryInput> =>
  Layer.effect(ConversationMemory, makeMemory(options))
