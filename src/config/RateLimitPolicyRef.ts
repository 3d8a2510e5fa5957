/**
 * The one place where the configuration schema refers to the RateLimiter's policy schema.
 *
 * `providers.<name>.rateLimit` and every `rateLimits.<key>` entry are the RateLimiter's own `RateLimitPolicy`
 * (a non-empty list of token-bucket / sliding-window / fixed-window tiers whose durations are written as
 * milliseconds or Effect duration strings, so they round-trip through JSON), taken from `src/ratelimit/index.ts`.
 * The rest of `src/config` only imports it from here.
 */
import { RateLimitPolicy as Policies } from "../ratelimit/index.ts"

/** The RateLimiter's policy schema. */
export const RateLimitPolicy = Policies.RateLimitPolicy
export type RateLimitPolicy = Policies.RateLimitPolicy
