/**
 * The rate-limit errors (issue 20 §3): distinct tags for distinct causes, one retry field, one JSON form, and the
 * gateway's answer to each.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { fromFailure } from "../../src/gateway/index.ts"
import { ProviderRateLimited } from "../../src/llm/index.ts"
import { RateLimitRefused } from "../../src/pipeline/index.ts"
import { RateLimited } from "../../src/ratelimit/index.ts"

const provider = new ProviderRateLimited({
  provider: "openai",
  description: "429",
  retryable: true,
  retryAfterMillis: 1500
})
const limiter = new RateLimited({
  key: "user:1",
  policy: "api",
  tier: "second",
  limit: 5,
  cost: 1,
  retryAfterMillis: 200
})
const never = new RateLimited({
  key: "user:1",
  policy: "api",
  tier: "second",
  limit: 5,
  cost: 9,
  retryAfterMillis: Infinity
})
const pipeline = new RateLimitRefused({
  key: "provider=openai",
  policy: "openai",
  tier: "minute",
  resource: "tokens",
  cost: 800,
  retryAfterMillis: 3000
})

describe("the rate-limit errors", () => {
  it("distinct tags for distinct causes: catchTag on one never catches another", () => {
    assert.deepStrictEqual(new Set([provider._tag, limiter._tag, pipeline._tag]).size, 3)
    const both: Effect.Effect<string, ProviderRateLimited | RateLimited> = Effect.fail(limiter)
    // each tag is caught by its own handler only; the other stays in the error channel's type
    const caught = both.pipe(
      Effect.catchTag("ProviderRateLimited", () => Effect.succeed("provider")),
      Effect.catchTag("RateLimited", (e) => Effect.succeed(`limiter ${e.tier}`))
    )
    assert.strictEqual(Effect.runSync(caught), "limiter second")
  })

  it("one retry field: retryAfterMillis in milliseconds, and retryAfter as a Duration", () => {
    for (const e of [provider, limiter, pipeline]) {
      assert.strictEqual(typeof e.retryAfterMillis, "number")
      assert.strictEqual(Duration.toMillis(e.retryAfter ?? Duration.zero), e.retryAfterMillis)
    }
    assert.isFalse(Duration.isFinite(never.retryAfter))
    assert.strictEqual(
      new ProviderRateLimited({ provider: "x", description: "429", retryable: true }).retryAfter,
      undefined
    )
  })

  it("one JSON form: the tag, the fields and retryAfterMillis as a number (null for never)", () => {
    assert.deepStrictEqual(JSON.parse(JSON.stringify(provider)), {
      _tag: "ProviderRateLimited",
      provider: "openai",
      description: "429",
      retryable: true,
      retryAfterMillis: 1500
    })
    assert.deepStrictEqual(JSON.parse(JSON.stringify(limiter)), {
      _tag: "RateLimited",
      key: "user:1",
      policy: "api",
      tier: "second",
      limit: 5,
      cost: 1,
      retryAfterMillis: 200
    })
    assert.strictEqual(JSON.parse(JSON.stringify(never)).retryAfterMillis, null)
    assert.deepStrictEqual(JSON.parse(JSON.stringify(pipeline)), {
      _tag: "RateLimitRefused",
      key: "provider=openai",
      policy: "openai",
      tier: "minute",
      resource: "tokens",
      cost: 800,
      retryAfterMillis: 3000
    })
  })

  it("the gateway answers each with 429 and retry-after in seconds", () => {
    for (const [e, seconds] of [[provider, 2], [limiter, 1], [pipeline, 3]] as const) {
      const http = fromFailure(e)
      assert.strictEqual(http.status, 429)
      assert.strictEqual(http.retryAfterSeconds, seconds)
    }
  })
})
