/**
 * BreakerStep over a shared store: two processes' breakers on one Redis (`CircuitBreaker.layerStoreRedis`, as
 * `Troupe.layer({ redis })` wires it) see the same open circuit; a store that fails fails open — the call runs
 * once, without the breaker, and keeps its own outcome.
 */
import { NodeRedis } from "@effect/platform-node"
import { Context, Effect, Exit, Layer } from "effect"
import { CircuitBreaker } from "effect/persistence"
import { afterAll, expect, it } from "vitest"
import { recommendedNodeRedisOptions } from "../../src/cache/RedisTier.ts"
import { ProviderOverloaded } from "../../src/llm/index.ts"
import { BreakerStep } from "../../src/pipeline/index.ts"
import type { Target } from "../../src/pipeline/Target.ts"
import { cleanupRedisPrefix, describeRedis, redisUrl, uniquePrefix } from "../support/redis.ts"

const prefix = uniquePrefix("breaker-store")
const target: Target = {
  provider: "openai",
  route: "openai",
  model: "gpt-4o-mini",
  spec: "openai:gpt-4o-mini",
  requested: "fast",
  defaults: {}
}
const overloaded = new ProviderOverloaded({ provider: "openai", description: "overloaded", retryable: true })

/** A BreakerStep with its own Redis connection (as a second gateway process would have). */
const stepOnRedis = () =>
  BreakerStep.layer({ failures: 1, openDuration: "1 minute" }).pipe(
    Layer.provide(CircuitBreaker.layerStoreRedis({ prefix })),
    Layer.provide(NodeRedis.layer({ url: redisUrl, ...recommendedNodeRedisOptions }))
  )

afterAll(async () => {
  await Effect.runPromise(
    cleanupRedisPrefix(prefix).pipe(
      Effect.provide(NodeRedis.layer({ url: redisUrl, ...recommendedNodeRedisOptions })),
      Effect.ignore
    )
  )
})

describeRedis("BreakerStep: circuits shared through Redis", () => {
  it("a circuit opened by one process's breaker rejects the calls of another's", async () => {
    const program = Effect.gen(function*() {
      const a = Context.get(yield* Layer.build(stepOnRedis()), BreakerStep)
      const b = Context.get(yield* Layer.build(stepOnRedis()), BreakerStep)
      expect((yield* b.state("openai"))._tag).toBe("Closed")
      const failed = yield* Effect.exit(a.around(Effect.fail(overloaded), target))
      expect(Exit.isFailure(failed)).toBe(true)
      expect((yield* b.state("openai"))._tag).toBe("Open")
      let ran = false
      const rejected = yield* Effect.flip(b.around(
        Effect.sync(() => {
          ran = true
        }),
        target
      ))
      expect(ran).toBe(false)
      expect(rejected).toBeInstanceOf(CircuitBreaker.CircuitBreakerError)
      expect(rejected instanceof CircuitBreaker.CircuitBreakerError && rejected.reason._tag).toBe("CircuitOpen")
    })
    await Effect.runPromise(Effect.scoped(program))
  })
})

/** A store whose every operation fails, as Redis does while unreachable. */
const failingStore = (failOn: "admit" | "record") => {
  const storeError = new CircuitBreaker.CircuitBreakerError({
    reason: new CircuitBreaker.CircuitBreakerStoreError({ message: "Redis unreachable" })
  })
  return Layer.succeed(
    CircuitBreaker.CircuitBreakerStore,
    CircuitBreaker.CircuitBreakerStore.of({
      admit: () =>
        failOn === "admit"
          ? Effect.fail(storeError)
          : Effect.succeed({ generation: 1, probe: false, consecutiveOpenings: 0, transition: undefined }),
      record: () => Effect.fail(storeError),
      state: () => Effect.fail(storeError)
    })
  )
}

it.each(["admit", "record"] as const)(
  "a store failing on %s fails open: the call runs once and keeps its own outcome",
  async (failOn) => {
    const program = Effect.gen(function*() {
      const step = Context.get(
        yield* Layer.build(BreakerStep.layer({ failures: 1 }).pipe(Layer.provide(failingStore(failOn)))),
        BreakerStep
      )
      let runs = 0
      const answer = yield* Effect.sync(() => ++runs).pipe(step.around(target))
      expect(answer).toBe(1)
      expect(runs).toBe(1)
      const failure = yield* Effect.flip(step.around(
        Effect.suspend(() => {
          runs++
          return Effect.fail(overloaded)
        }),
        target
      ))
      expect(failure).toBe(overloaded)
      expect(runs).toBe(2)
    })
    await Effect.runPromise(Effect.scoped(program))
  }
)
