/**
 * The in-process conversation memory: a `Map` from conversation id to its last N messages.
 *
 * Appends trim from the front (RPUSH + LTRIM semantics, the same as the Redis layer, checked by one conformance
 * suite). Everything is synchronous under the hood; messages are kept as validated values (no encoding). Lost when
 * the process ends — use `layerRedis` to share or keep conversations.
 *
 * @since 0.1.0
 */
import { Effect, Layer } from "effect"
import type { LlmMessage } from "../llm/index.ts"
import type { ConversationMemoryShape, MemoryOptions } from "./ConversationMemory.ts"
import { checkCount, ConversationMemory, DEFAULT_MAX_MESSAGES, fromStore } from "./ConversationMemory.ts"
import type { InvalidMemoryInput } from "./MemoryError.ts"

/** Builds an in-process memory. */
export const makeMemory = (options: MemoryOptions = {}): Effect.Effect<ConversationMemoryShape, InvalidMemoryInput> =>
  Effect.map(checkCount(options.maxMessages ?? DEFAULT_MAX_MESSAGES, "maxMessages"), (maxMessages) => {
    const store = new Map<string, Array<LlmMessage>>()
    return fromStore(maxMessages, {
      append: (id, messages) =>
        Effect.sync(() => {
          const list = store.get(id) ?? []
          list.push(...messages)
          if (list.length > maxMessages) list.splice(0, list.length - maxMessages)
          store.set(id, list)
        }),
      messages: (id, last) =>
        Effect.sync(() => {
          const list = store.get(id) ?? []
          return last === undefined ? [...list] : list.slice(-last)
        }),
      clear: (id) =>
        Effect.sync(() => {
          store.delete(id)
        }),
      stats: Effect.succeed({ skippedUndecodable: 0 })
    })
  })

/**
 * In-process conversation memory.
 *
 * @example
 * ```ts
 * program.pipe(Effect.provide(layerMemory({ maxMessages: 50 })))
 * ```
 */
export const layerMemory = (options: MemoryOptions = {}): Layer.Layer<ConversationMemory, InvalidMemoryInput> =>
  Layer.effect(ConversationMemory, makeMemory(options))
