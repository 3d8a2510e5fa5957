/**
 * troupe's conversation memory: the last N messages of each conversation, in process or in Redis, as one
 * `ConversationMemory` service with two layers.
 */
export { ConversationMemory, DEFAULT_MAX_CONVERSATIONS, DEFAULT_MAX_MESSAGES } from "./ConversationMemory.ts"
export type { ConversationMemoryShape, MemoryOptions, MemoryStats } from "./ConversationMemory.ts"
export { layerMemory, makeMemory } from "./MemoryBackend.ts"
export * from "./MemoryError.ts"
export { layerRedis, makeRedis } from "./RedisBackend.ts"
export type { RedisMemoryOptions } from "./RedisBackend.ts"
