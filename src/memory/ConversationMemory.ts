/**
 * `ConversationMemory`: the recent messages of each conversation, keeping the last N (default 100) — one service,
 * two layers: in-process (`layerMemory`) and Redis (`layerRedis`, RPUSH + LTRIM semantics, optional expiry).
 *
 * `append` adds messages at the end and trims the oldest beyond `maxMessages`; the in-process layer also keeps at
 * most `maxConversations` (default 10,000) conversations, forgetting the least recently used one past it; `messages` reads them (optionally
 * only the last `n`); `clear` forgets a conversation. Messages are `LlmMessage`s (the LLM request Schema), validated
 * on `append` and encoded through that Schema in Redis; a stored message that no longer decodes is skipped and
 * counted in `stats.skippedUndecodable`, never a crash. The peers are LangChain's `ConversationBufferWindowMemory`
 * (`k` last turns) and its `RedisChatMessageHistory` (RPUSH/LRANGE per session, TTL).
 *
 * @since 0.1.0
 */
import { Context, Effect, Schema, SchemaIssue } from "effect"
import * as Invalid from "../internal/InvalidInput.ts"
import type { LlmMessage } from "../llm/index.ts"
import { LlmMessage as LlmMessageSchema } from "../llm/index.ts"
import { InvalidMemoryInput } from "./MemoryError.ts"
import type { MemoryError } from "./MemoryError.ts"

/** Counters of a memory instance. */
export interface MemoryStats {
  /** Messages skipped because the stored form no longer decodes. */
  readonly skippedUndecodable: number
  /** Conversations dropped to keep the in-process memory within `maxConversations` (0 for Redis). */
  readonly evictedConversations: number
}

/** The service interface. */
export interface ConversationMemoryShape {
  /** The maximum messages kept per conversation. */
  readonly maxMessages: number
  /**
   * Appends messages (oldest first) and trims the conversation to the last `maxMessages`; an empty list is a no-op.
   * Fails with `MemoryError`: `InvalidMemoryInput` when the conversation id is empty or longer than 512 characters or
   * a message does not decode as an `LlmMessage` (nothing is appended then); `MemoryBackendError` when the store's
   * write fails (Redis: the append script errors or the connection fails; never for the in-process layer).
   */
  readonly append: (conversationId: string, messages: ReadonlyArray<LlmMessage>) => Effect.Effect<void, MemoryError>
  /**
   * The kept messages, oldest first; with `last`, only the last `last` of them (an unknown conversation has none).
   * Fails with `MemoryError`: `InvalidMemoryInput` when the conversation id is empty or longer than 512 characters or
   * `last` is not an integer from 1 to 100,000,000; `MemoryBackendError` when the store's read fails (Redis: LRANGE
   * errors or the connection fails; never for the in-process layer). Undecodable stored messages are skipped, not errors.
   */
  readonly messages: (
    conversationId: string,
    options?: { readonly last?: number }
  ) => Effect.Effect<ReadonlyArray<LlmMessage>, MemoryError>
  /**
   * Forgets a conversation (an unknown one is a no-op). Fails with `MemoryError`: `InvalidMemoryInput` when the
   * conversation id is empty or longer than 512 characters; `MemoryBackendError` when the store's delete fails (Redis:
   * DEL errors or the connection fails; never for the in-process layer).
   */
  readonly clear: (conversationId: string) => Effect.Effect<void, MemoryError>
  readonly stats: Effect.Effect<MemoryStats>
}

/**
 * Conversation memory.
 *
 * @example
 * ```ts
 * const memory = yield* ConversationMemory
 * yield* memory.append("conv-1", [{ role: "user", content: "hi" }])
 * const history = yield* memory.messages("conv-1")
 * ```
 */
export class ConversationMemory extends Context.Service<ConversationMemory, ConversationMemoryShape>()(
  "troupe/ConversationMemory"
) {}

/** Options shared by both layers. */
export interface MemoryOptions {
  /** Messages kept per conversation. Default 100. */
  readonly maxMessages?: number
  /**
   * In-process layer only: conversations kept; past it the least recently used conversation (appended to or read
   * longest ago) is forgotten. Default 10,000. (Redis keeps every conversation until its `ttl`.)
   */
  readonly maxConversations?: number
}

/** Default `maxMessages`. */
export const DEFAULT_MAX_MESSAGES = 100

/** Default `maxConversations` of the in-process layer. */
export const DEFAULT_MAX_CONVERSATIONS = 10_000

/** An `InvalidMemoryInput` naming the first bad field of a Schema issue (prefixed by `root`). */
export const invalidFromIssue = (issue: SchemaIssue.Issue, root: string): InvalidMemoryInput =>
  new InvalidMemoryInput({ subject: "conversation memory input", ...Invalid.describeIssue(issue, root) })

const ConversationId = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(512))
const Count = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 100_000_000 }))
const decodeMessages = Schema.decodeUnknownEffect(Schema.Array(LlmMessageSchema))

/** Validates a conversation id. */
const checkConversationId = (id: string): Effect.Effect<string, InvalidMemoryInput> =>
  Schema.decodeUnknownEffect(ConversationId)(id).pipe(
    Effect.mapError((e) => invalidFromIssue(e.issue, "conversationId"))
  )

/** Validates messages to append. */
const checkMessages = (
  messages: ReadonlyArray<LlmMessage>
): Effect.Effect<ReadonlyArray<LlmMessage>, InvalidMemoryInput> =>
  decodeMessages(messages).pipe(Effect.mapError((e) => invalidFromIssue(e.issue, "messages")))

/**
 * Validates a positive count option (`maxMessages`, `last`). Fails with `InvalidMemoryInput` at `path` when `value`
 * is not an integer from 1 to 100,000,000.
 */
export const checkCount = (value: number, path: string): Effect.Effect<number, InvalidMemoryInput> =>
  Schema.decodeUnknownEffect(Count)(value).pipe(Effect.mapError((e) => invalidFromIssue(e.issue, path)))

/**
 * What a backend implements: the service's operations on inputs already validated by `fromStore` (a non-empty
 * list of valid messages, a valid id, `last` a valid count or `undefined` for all kept messages).
 */
export interface MemoryStore {
  /**
   * Appends the messages and trims to the last `maxMessages`. Fails with `MemoryError` only as `MemoryBackendError`,
   * when the store's write fails (inputs are validated by `fromStore`, so a store never returns `InvalidMemoryInput`).
   */
  readonly append: (id: string, messages: ReadonlyArray<LlmMessage>) => Effect.Effect<void, MemoryError>
  /**
   * The kept messages (the last `last`, or all kept when `undefined`). Fails with `MemoryError` only as
   * `MemoryBackendError`, when the store's read fails (`InvalidMemoryInput` is `fromStore`'s, never the store's).
   */
  readonly messages: (id: string, last: number | undefined) => Effect.Effect<ReadonlyArray<LlmMessage>, MemoryError>
  /**
   * Forgets the conversation. Fails with `MemoryError` only as `MemoryBackendError`, when the store's delete fails
   * (`InvalidMemoryInput` is `fromStore`'s, never the store's).
   */
  readonly clear: (id: string) => Effect.Effect<void, MemoryError>
  readonly stats: Effect.Effect<MemoryStats>
}

/** The service over a backend: every input is validated here, once for all backends, before the store sees it. */
export const fromStore = (maxMessages: number, store: MemoryStore): ConversationMemoryShape => ({
  maxMessages,
  append: (conversationId, messages) =>
    Effect.gen(function*() {
      const id = yield* checkConversationId(conversationId)
      const valid = yield* checkMessages(messages)
      if (valid.length > 0) yield* store.append(id, valid)
    }),
  messages: (conversationId, options) =>
    Effect.gen(function*() {
      const id = yield* checkConversationId(conversationId)
      const last = options?.last === undefined ? undefined : yield* checkCount(options.last, "last")
      return yield* store.messages(id, last)
    }),
  clear: (conversationId) => Effect.flatMap(checkConversationId(conversationId), store.clear),
  stats: store.stats
})
