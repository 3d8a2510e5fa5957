/**
 * Per-provider default policies shipped with troupe, in their JSON form (so they validate through the same
 * Schema as user config, and the config store can print or override them).
 *
 * Every provider gets three tiers: requests per minute, per hour and per day. The minute tier is a token
 * bucket (burst = the per-minute limit, refilled continuously), so short bursts pass and sustained traffic
 * is smoothed; the hour and day tiers are epoch-aligned fixed windows, which keep memory O(1) per key (an
 * exact sliding log of 10,000 hits per day per key would cost ~160 KB per key).
 *
 * | policy      | per minute | per hour | per day |
 * |-------------|-----------:|---------:|--------:|
 * | `default`   | 60         | 1,000    | 10,000  |
 * | `anthropic` (Claude) | 50 | 1,000   | 10,000  |
 * | `xai` (Grok)         | 50 | 1,000   | 10,000  |
 * | `google` (Gemini)    | 60 | 1,500   | 15,000  |
 * | `openai`, `mistral`, `groq`, `cohere` | 60 | 1,000 | 10,000 |
 *
 * Hand-rolled: Effect ships no provider presets.
 */
import type { RateLimitPolicyInput } from "./RateLimitPolicy.ts"

/** Three tiers (minute bucket, hour and day fixed windows) in JSON form. */
export const threeTier = (perMinute: number, perHour: number, perDay: number): RateLimitPolicyInput => ({
  tiers: [
    { _tag: "TokenBucket", name: "minute", capacity: perMinute, refillTokens: perMinute, refillEvery: 60_000 },
    { _tag: "FixedWindow", name: "hour", limit: perHour, window: 3_600_000 },
    { _tag: "FixedWindow", name: "day", limit: perDay, window: 86_400_000 }
  ]
})

/** The name of the policy used when a check names none and its key has no known provider scope. */
export const DEFAULT_POLICY = "default"

/** The policy an LLM pipeline limits estimated tokens under, per provider model (tokens per minute). */
export const DEFAULT_TOKENS_POLICY = "llm-tokens"

/** Default policies by provider name (`default` applies to every other key), plus the tokens-per-minute policy. */
export const providerDefaults: Readonly<Record<string, RateLimitPolicyInput>> = {
  [DEFAULT_POLICY]: threeTier(60, 1_000, 10_000),
  openai: threeTier(60, 1_000, 10_000),
  anthropic: threeTier(50, 1_000, 10_000),
  xai: threeTier(50, 1_000, 10_000),
  google: threeTier(60, 1_500, 15_000),
  mistral: threeTier(60, 1_000, 10_000),
  groq: threeTier(60, 1_000, 10_000),
  cohere: threeTier(60, 1_000, 10_000),
  [DEFAULT_TOKENS_POLICY]: {
    tiers: [{
      _tag: "TokenBucket",
      name: "tokens-per-minute",
      capacity: 200_000,
      refillTokens: 200_000,
      refillEvery: "1 minute"
    }]
  }
}
