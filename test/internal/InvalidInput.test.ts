import { assert, describe, it } from "@effect/vitest"
import { Result, Schema } from "effect"
import { InvalidCacheOptions } from "../../src/cache/index.ts"
import { InvalidGuardOptions } from "../../src/guard/index.ts"
import { InvalidIdentityInput } from "../../src/identity/index.ts"
import * as Invalid from "../../src/internal/InvalidInput.ts"
import { InvalidLlmRequest, InvalidProviderOptions } from "../../src/llm/index.ts"
import { InvalidMemoryInput } from "../../src/memory/index.ts"
import { InvalidPipelineOptions } from "../../src/pipeline/index.ts"
import { InvalidRateLimitInput } from "../../src/ratelimit/index.ts"
import { InvalidOptions } from "../../src/runtime/index.ts"

const Shape = Schema.Struct({
  a: Schema.Struct({ b: Schema.Array(Schema.Struct({ c: Schema.Number })) }),
  d: Schema.String
})

describe("InvalidInput: one shape, one path format and one decoder for invalid input", () => {
  it("one path format: properties joined by '.', array indices in brackets, after a prefix", () => {
    assert.strictEqual(Invalid.formatPath(["a", "b", 2, "c"]), "a.b[2].c")
    assert.strictEqual(Invalid.formatPath([0, "x"], "policies.openai"), "policies.openai[0].x")
    assert.strictEqual(Invalid.formatPath([]), "")
  })

  it("decode names the first bad path and lists every problem in detail", () => {
    const r = Invalid.decode(
      Shape,
      { a: { b: [{ c: 1 }, { c: "x" }] }, d: 3 },
      "test options",
      (f) => new InvalidOptions(f)
    )
    assert.isTrue(Result.isFailure(r))
    if (Result.isFailure(r)) {
      assert.strictEqual(r.failure.subject, "test options")
      assert.strictEqual(r.failure.path, "a.b[1].c")
      assert.include(r.failure.detail, "a.b[1].c: ")
      assert.include(r.failure.detail, "d: ")
      assert.strictEqual(r.failure.message, `invalid test options: at a.b[1].c: ${r.failure.detail}`)
    }
  })

  it("bounded: at most MAX_ISSUES problems, each message cut to MAX_MESSAGE_CHARS", () => {
    const Many = Schema.Array(Schema.Literal("ok"))
    const r = Invalid.decode(Many, Array.from({ length: 100 }, () => "x".repeat(10_000)), "list", (f) => f)
    assert.isTrue(Result.isFailure(r))
    if (Result.isFailure(r)) {
      assert.isBelow(r.failure.detail.length, Invalid.MAX_ISSUES * (Invalid.MAX_MESSAGE_CHARS + 20) + 100)
      assert.include(r.failure.detail, `${100 - Invalid.MAX_ISSUES} more`)
    }
  })

  it("every subsystem's invalid-input error carries subject, path and detail and the one message", () => {
    const errors = [
      InvalidCacheOptions.at("ttl", "expected a duration"),
      InvalidGuardOptions.at("pii.action", "expected block"),
      InvalidIdentityInput.at("create.scopes[0]", "expected a scope"),
      InvalidLlmRequest.at("messages[0]", "expected a message"),
      InvalidProviderOptions.at("openai", "timeout", "expected a duration"),
      InvalidMemoryInput.at("ttl", "expected a duration"),
      InvalidPipelineOptions.at("RetryStep", "baseDelay", "expected a duration"),
      InvalidRateLimitInput.at(["policies", "p", "tiers", 0], "duplicate tier name"),
      new InvalidOptions(Invalid.fields("actor start options", "mailbox.capacity", "expected ≥ 1"))
    ]
    for (const e of errors) {
      assert.isString(e.subject)
      assert.isString(e.path)
      assert.isTrue(e.detail.startsWith(`${e.path}: `), e.detail)
      assert.strictEqual(e.message, Invalid.invalidMessage(e))
    }
    assert.strictEqual(errors[7]?.path, "policies.p.tiers[0]")
  })
})
