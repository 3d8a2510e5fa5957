/**
 * troupe RateLimiter: multi-tier policies (token bucket, sliding window, fixed window), FIFO acquire,
 * memory and Redis backends with store-error fallbacks. See `RateLimiter.ts` for the design.
 */
export type { StoreErrorPolicy } from "./internal/RedisBackend.ts"
export { DEFAULT_POLICY, DEFAULT_TOKENS_POLICY, providerDefaults, threeTier } from "./ProviderDefaults.ts"
export { RateLimiter } from "./RateLimiter.ts"
export type {
  AcquireOptions,
  CheckError,
  CheckOptions,
  RateLimiterHooks,
  RateLimiterOptionsInput,
  RateLimiterShape,
  RedisRateLimiterOptionsInput
} from "./RateLimiter.ts"
export { RateLimiterOptions, RedisRateLimiterOptions } from "./RateLimiter.ts"
export { InvalidRateLimitInput, RateLimited, RateLimitStoreError } from "./RateLimitError.ts"
export * as RateLimitKey from "./RateLimitKey.ts"
export * as RateLimitPolicy from "./RateLimitPolicy.ts"
export type { RateLimitPolicyInput, RateLimitTier } from "./RateLimitPolicy.ts"
export { Allowed } from "./RateLimitResult.ts"
export type { RateLimiterEvent, RateLimiterStats, RateLimitStatus, TierStatus } from "./RateLimitResult.ts"
