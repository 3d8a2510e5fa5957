import { assert, describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Layer, Redacted } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import { DeadLetters } from "../../src/dlq/index.ts"
import { ProviderServerError } from "../../src/llm/index.ts"
import type { LlmCallInput } from "../../src/pipeline/index.ts"
import { Llm, LlmPipeline, PipelineRedrive } from "../../src/pipeline/index.ts"
import { CountingProvider, withPipelineDeps } from "./support.ts"

const outage = new ProviderServerError({ provider: "primary", status: 503, description: "down", retryable: true })

/** A provider that fails while `down` is set, counting its calls. */
const flaky = (state: { down: boolean }) =>
  new CountingProvider("primary", () => (state.down ? { error: outage } : { text: "fixed" }))

const ask = (content: string, options?: Record<string, unknown>): LlmCallInput =>
  ({ model: "fast", messages: [{ role: "user", content }], ...(options ? { options } : {}) }) as LlmCallInput

/** Runs `effect` past the retry delays under TestClock (the retry step sleeps one second between attempts). */
const pastRetries = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(Effect.exit(effect))
    yield* TestClock.adjust("1 second")
    return yield* Fiber.join(fiber)
  })

/** Runs `effect` to its end under TestClock, a retry delay at a time (a chain of targets retries on each). */
const pastAllRetries = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(Effect.exit(effect))
    for (let i = 0; i < 20 && fiber.pollUnsafe() === undefined; i++) yield* TestClock.adjust("1 second")
    return yield* Fiber.join(fiber)
  })

/** The pipeline with retries (one per target) and the chain fast (primary) → cheap (backup), over both providers. */
const chainLayer = (primary: CountingProvider, backup: CountingProvider) =>
  LlmPipeline.layerWithDeadLetters({
    cache: false,
    retry: { jitter: 0, retries: 1, baseDelay: "1 second" },
    fallback: { chains: { fast: ["cheap"] } }
  }).pipe(withPipelineDeps([primary.provider, backup.provider], { extra: DeadLetters.layerMemory() }))

const layerFor = (provider: CountingProvider, redrive = new PipelineRedrive()) =>
  LlmPipeline.layerWithDeadLetters({ cache: false, retry: { jitter: 0, retries: 1, baseDelay: "1 second" }, redrive })
    .pipe(
      withPipelineDeps([provider.provider], { extra: DeadLetters.layerMemory({ redrive: redrive.handler }) })
    )

describe("DeadLetterStep", () => {
  it.effect("a request that fails permanently after retries goes to the dead-letter queue with its input, error and attempts", () => {
    const state = { down: true }
    const provider = flaky(state)
    return Effect.gen(function*() {
      const exit = yield* pastRetries(
        (yield* Llm).generate(ask("hello", { apiKey: Redacted.make("sk-secret-123456789") }))
      )
      assert.isTrue(Exit.isFailure(exit))
      const [letter, ...rest] = yield* (yield* DeadLetters).list()
      assert.strictEqual(rest.length, 0)
      assert.strictEqual(letter?.kind, "request")
      assert.strictEqual(letter?.source, "fast")
      assert.strictEqual(letter?.error.tag, "ProviderServerError")
      assert.strictEqual(letter?.attempts, 2)
      assert.strictEqual(letter?.status, "dead")
      assert.isNumber(letter?.firstFailedAt)
      assert.deepStrictEqual((letter?.input as { messages: unknown }).messages, [{ role: "user", content: "hello" }])
      expect(JSON.stringify(letter?.input)).not.toContain("sk-secret")
    }).pipe(Effect.provide(layerFor(provider)))
  })

  it.effect("a request whose fallback chain of two targets fails permanently is one letter; its attempts count the retries and fallbacks", () => {
    const primary = flaky({ down: true })
    const backup = new CountingProvider("backup", () => ({
      error: new ProviderServerError({ provider: "backup", status: 502, description: "down too", retryable: true })
    }))
    return Effect.gen(function*() {
      const exit = yield* pastAllRetries((yield* Llm).generate(ask("nobody answers")))
      assert.isTrue(Exit.isFailure(exit))
      assert.strictEqual(primary.calls, 2) // the first try and its retry
      assert.strictEqual(backup.calls, 2) // the fallback and its retry
      const letters = yield* (yield* DeadLetters).list()
      assert.strictEqual(letters.length, 1)
      const [letter] = letters
      assert.strictEqual(letter?.attempts, 4)
      assert.strictEqual(letter?.source, "fast")
      assert.strictEqual(letter?.error.tag, "ProviderServerError")
      assert.include(letter?.error.message ?? "", "down too") // the last target's error
      assert.deepStrictEqual((letter?.input as { messages: unknown }).messages, [{
        role: "user",
        content: "nobody answers"
      }])
    }).pipe(Effect.provide(chainLayer(primary, backup)))
  })

  it.effect("a request rescued by its fallback (after the primary's retries) does not go to the dead-letter queue", () => {
    const primary = flaky({ down: true })
    const backup = new CountingProvider("backup", () => ({ text: "rescued" }))
    return Effect.gen(function*() {
      const exit = yield* pastAllRetries((yield* Llm).generate(ask("rescue me")))
      assert.isTrue(Exit.isSuccess(exit))
      const result = Exit.isSuccess(exit) ? exit.value : undefined
      assert.strictEqual(result?.text, "rescued")
      assert.strictEqual(result?.meta.fallbackIndex, 1)
      assert.strictEqual(result?.meta.attempts, 3)
      assert.strictEqual(primary.calls, 2)
      const dlq = yield* DeadLetters
      assert.strictEqual((yield* dlq.list()).length, 0)
      assert.strictEqual((yield* dlq.stats()).depth, 0)
    }).pipe(Effect.provide(chainLayer(primary, backup)))
  })

  it.effect("errors before any provider is asked are the caller's and are not recorded", () => {
    const provider = flaky({ down: false })
    return Effect.gen(function*() {
      const exit = yield* Effect.exit(
        (yield* Llm).generate({ model: "no-such-model", messages: [] } as unknown as LlmCallInput)
      )
      assert.isTrue(Exit.isFailure(exit))
      assert.strictEqual((yield* (yield* DeadLetters).list()).length, 0)
    }).pipe(Effect.provide(layerFor(provider)))
  })

  it.effect("redrive re-runs the request through the pipeline; it is idempotent", () => {
    const state = { down: true }
    const provider = flaky(state)
    return Effect.gen(function*() {
      yield* pastRetries((yield* Llm).generate(ask("retry me")))
      const dlq = yield* DeadLetters
      const [letter] = yield* dlq.list()
      const callsBefore = provider.calls
      state.down = false
      const first = yield* dlq.redrive(letter!.id)
      assert.strictEqual(first.result, "redriven")
      assert.strictEqual(provider.calls, callsBefore + 1)
      const again = yield* dlq.redrive(letter!.id)
      assert.strictEqual(again.result, "skipped")
      assert.strictEqual(provider.calls, callsBefore + 1)
      assert.strictEqual((yield* dlq.inspect(letter!.id)).status, "redriven")
    }).pipe(Effect.provide(layerFor(provider)))
  })

  it.effect("a redriven request that fails again stays one letter (dead again, redrives + 1)", () => {
    const provider = flaky({ down: true })
    return Effect.gen(function*() {
      yield* pastRetries((yield* Llm).generate(ask("still down")))
      const dlq = yield* DeadLetters
      const outcomes = yield* pastRetries(dlq.redriveMany({}, { ratePerSecond: 1000 }))
      assert.isTrue(Exit.isSuccess(outcomes))
      assert.deepStrictEqual(Exit.isSuccess(outcomes) ? outcomes.value.map((o) => o.result) : [], ["failed"])
      const letters = yield* dlq.list()
      assert.strictEqual(letters.length, 1)
      assert.strictEqual(letters[0]?.status, "dead")
      assert.strictEqual(letters[0]?.redrives, 1)
    }).pipe(Effect.provide(layerFor(provider)))
  })

  it.effect("without a bound pipeline a redrive fails and the letter stays dead", () =>
    Effect.gen(function*() {
      const dlq = yield* DeadLetters
      const letter = yield* dlq.record({ kind: "request", source: "fast", input: ask("x"), error: outage, attempts: 1 })
      assert.strictEqual((yield* dlq.redrive(letter.id)).result, "failed")
      assert.strictEqual((yield* dlq.inspect(letter.id)).status, "dead")
    }).pipe(Effect.provide(DeadLetters.layerMemory({ redrive: new PipelineRedrive().handler }))))

  it("fuzz: arbitrary letter inputs redriven through the pipeline fail typed or succeed, never die", async () => {
    const provider = flaky({ down: false })
    const redrive = new PipelineRedrive()
    await Effect.runPromise(
      Effect.gen(function*() {
        yield* Llm // builds the pipeline, which binds the redrive
        const dlq = yield* DeadLetters
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(fc.anything(), async (input) => {
              const exit = await Effect.runPromise(Effect.exit(
                Effect.flatMap(
                  dlq.record({ kind: "request", source: "fuzz", input, error: outage, attempts: 1 }),
                  (l) => dlq.redrive(l.id)
                )
              ))
              return Exit.isSuccess(exit) || !Cause.hasDies(exit.cause)
            }),
            { numRuns: 200 }
          )
        )
      }).pipe(Effect.provide(layerFor(provider, redrive)))
    )
  })
})
