/**
 * The cache subsystem: `Cache` (memory, or memory over Redis) and `ResponseCache` (LLM responses).
 *
 * @since 0.1.0
 */
export { Cache, makeMemory, makeTiered } from "./Cache.ts"
export type { TieredCacheOptions } from "./Cache.ts"
export {
  CacheKeyTooLarge,
  CacheValueEncodingError,
  CacheValueTooLarge,
  InvalidCacheOptions,
  InvalidResponseRequest
} from "./CacheError.ts"
export type { CachePutError } from "./CacheError.ts"
export { CacheMetricNames } from "./CacheMetrics.ts"
export {
  CacheOptionsSchema,
  DEFAULT_MAX_KEY_BYTES,
  DEFAULT_MAX_VALUE_BYTES,
  DEFAULT_SWEEP_INTERVAL_MS
} from "./CacheOptions.ts"
export type { CacheOptions } from "./CacheOptions.ts"
export type { CacheMark, CacheShape, ClearOptions, ComputeOptions, PutOptions } from "./CacheShape.ts"
export type { CacheStats, EvictionCounts, L1Stats, L2Stats } from "./CacheStats.ts"
export type { CacheInternals } from "./internal/CacheCore.ts"
export type { EvictionReason } from "./internal/LruStore.ts"
export { recommendedNodeRedisOptions } from "./RedisTier.ts"
export type { RedisTierOptions } from "./RedisTier.ts"
export { make as makeResponseCache, ResponseCache } from "./ResponseCache.ts"
export type { CachedCallOptions, ResponseCacheOptions, ResponseCacheShape, ResponseKeyError } from "./ResponseCache.ts"
export {
  canonicalJson,
  CanonicalJsonTooDeep,
  hashRequest,
  hashRequestFields,
  MAX_CANONICAL_DEPTH,
  nestedDeeperThan,
  normalizeRequest,
  ResponseKeyInput,
  ResponseKeyMessage
} from "./ResponseKey.ts"
