/**
 * Issue 11 §4: `isPlainLlmCall` (the hand-written fast path of `decodeLlmCall`) held to the `LlmCall` Schema by a
 * property test — whatever it accepts, the Schema accepts unchanged — and hostile nesting fails typed.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Option, Redacted, Schema } from "effect"
import * as fc from "fast-check"
import { decodeLlmCall, isPlainLlmCall, LlmCall } from "../../src/pipeline/index.ts"

const decode = Schema.decodeUnknownExit(LlmCall)

const maybe = <A>(arb: fc.Arbitrary<A>) => fc.oneof(arb, fc.constant(undefined))
const scalar = fc.oneof(
  fc.string({ maxLength: 3 }),
  fc.integer({ min: -2, max: 20 }),
  fc.double(),
  fc.boolean(),
  fc.constant(null)
)
const message = fc.record({
  role: fc.oneof(fc.constantFrom("system", "user", "assistant", "tool", "other"), scalar),
  content: fc.oneof(fc.string({ maxLength: 5 }), scalar),
  name: maybe(fc.oneof(fc.string(), scalar)),
  toolCallId: maybe(fc.oneof(fc.string(), scalar)),
  isError: maybe(fc.oneof(fc.boolean(), scalar)),
  extra: maybe(scalar)
}, { requiredKeys: [] })
const call = fc.record({
  model: fc.oneof(fc.constantFrom("fast", ""), scalar),
  messages: fc.oneof(fc.array(message, { maxLength: 3 }), scalar),
  toolChoice: maybe(fc.oneof(fc.constantFrom("auto", "none", "required", "bad"), scalar)),
  params: maybe(fc.oneof(
    fc.record({
      temperature: maybe(fc.oneof(fc.double(), scalar)),
      maxTokens: maybe(scalar),
      topP: maybe(scalar),
      stop: maybe(scalar)
    }, { requiredKeys: [] }),
    scalar
  )),
  options: maybe(fc.oneof(
    fc.record({
      cache: maybe(fc.oneof(fc.constantFrom("default", "bypass", "refresh", "x"), scalar)),
      timeout: maybe(scalar),
      user: maybe(scalar),
      subject: maybe(scalar),
      tenant: maybe(scalar),
      apiKey: maybe(fc.oneof(fc.constant(Redacted.make("k")), fc.constant(Redacted.make("")), scalar)),
      retries: maybe(scalar),
      hedge: maybe(fc.oneof(scalar, fc.record({ delay: maybe(scalar) }, { requiredKeys: [] }))),
      priority: maybe(fc.oneof(fc.constantFrom("critical", "high", "normal", "low", "urgent", ""), scalar)),
      budgets: maybe(fc.oneof(
        fc.array(
          fc.oneof(fc.constantFrom("key:abc", "tenant:t-1", "principal:a@b", "key:", "user:x", "key:a b"), scalar),
          {
            maxLength: 10
          }
        ),
        fc.sparseArray(fc.constant("key:abc"), { maxLength: 3 }),
        scalar
      )),
      other: maybe(scalar)
    }, { requiredKeys: [] }),
    scalar
  )),
  tools: maybe(scalar),
  extra: maybe(scalar)
}, { requiredKeys: [] })

describe("isPlainLlmCall (issue 11 §4)", () => {
  it("accepts only what the LlmCall Schema accepts unchanged (property test)", () => {
    fc.assert(
      fc.property(call, (u) => {
        if (!isPlainLlmCall(u)) return true
        const exit = decode(u)
        return Exit.isSuccess(exit) && JSON.stringify(exit.value) === JSON.stringify(u)
      }),
      { numRuns: 5000 }
    )
  })

  it("optional keys set to undefined go to the Schema (which rejects them)", () => {
    const u = {
      model: "fast",
      messages: [{ role: "user", content: "hi", name: undefined }],
      options: { user: undefined }
    }
    assert.isFalse(isPlainLlmCall(u))
    assert.isTrue(Exit.isFailure(decode(u)))
  })

  it.effect("20,000 levels of nesting (tools, responseFormat, tool-call arguments) fail with InvalidLlmRequest", () =>
    Effect.gen(function*() {
      let deep: unknown = {}
      for (let i = 0; i < 20_000; i++) deep = { a: deep }
      for (
        const bad of [
          { model: "fast", messages: [{ role: "user", content: "x" }], tools: [{ name: "t", parameters: { deep } }] },
          {
            model: "fast",
            messages: [{ role: "user", content: "x" }],
            responseFormat: { type: "json", name: "r", schema: { deep } }
          },
          {
            model: "fast",
            messages: [{ role: "assistant", content: "", toolCalls: [{ id: "1", name: "t", arguments: deep }] }]
          }
        ]
      ) {
        const exit = yield* Effect.exit(decodeLlmCall(bad))
        assert.strictEqual(
          Exit.isFailure(exit) ? Option.getOrUndefined(Exit.findErrorOption(exit))?._tag : undefined,
          "InvalidLlmRequest"
        )
      }
    }))
})
