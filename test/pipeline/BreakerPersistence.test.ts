/**
 * Circuit-breaker state persisted across restarts (issue 16 §4): a circuit opened through one `Troupe.layer({ redis })`
 * is still open in a runtime built afresh on the same Redis prefix after the first is disposed — calls are rejected
 * without reaching the provider until the open time passes — and the half-open probe after it is coordinated across
 * two runtimes: exactly one probe reaches the provider. Real time throughout: effect's Redis breaker store reads the
 * time from Redis (`TIME`), not from the `Clock`.
 */
import { Cause, Context, Duration, Effect, Exit, Layer } from "effect"
import { CircuitBreaker } from "effect/persistence"
import { createClient } from "redis"
import { afterAll, expect, it } from "vitest"
import { Troupe } from "../../src/app/index.ts"
import { ProviderServerError } from "../../src/llm/index.ts"
import type { LlmCallInput } from "../../src/pipeline/index.ts"
import { Llm } from "../../src/pipeline/index.ts"
import { describeRedis, redisUrl, uniquePrefix } from "../support/redis.ts"

const prefix = uniquePrefix("breaker-restart")
const openMillis = 3_000
/** The provider: down until `up`; every call that reaches it is counted (the probe answers after 500 ms). */
const provider = { up: false, calls: 0 }
const reply = () => {
  provider.calls++
  return provider.up
    ? { text: "up again" }
    : { error: new ProviderServerError({ provider: "scripted", status: 503, description: "down", retryable: true }) }
}

/** One application process on the shared Redis prefix: one failure opens a provider's circuit for 3 s. */
const troupe = () =>
  Troupe.layer({
    redis: { url: redisUrl, prefix },
    config: { env: {} },
    providers: {
      scripted: { rules: [{ when: { lastUser: "probe" }, latency: "500 millis", reply }, { when: "always", reply }] }
    },
    pipeline: {
      cache: false,
      retry: false,
      fallback: false,
      breaker: { failures: 1, openDuration: openMillis }
    }
  })

const ask = (content: string): LlmCallInput => ({ model: "fast", messages: [{ role: "user", content }] })

/** Builds a runtime in the current scope and returns its `Llm`. */
const start = Effect.map(Layer.build(troupe()), (context) => Context.get(context, Llm))

/** The circuit breaker's rejection (open or half-open) in a failed call, if that is why it failed. */
const rejection = (exit: Exit.Exit<unknown, unknown>): string | undefined => {
  if (Exit.isSuccess(exit)) return undefined
  const error = Cause.squash(exit.cause)
  return error instanceof CircuitBreaker.CircuitBreakerError ? error.reason._tag : undefined
}

/** The breaker hashes under the prefix (one per provider circuit): key → fields. */
const breakerKeys = async () => {
  const client = createClient({ url: redisUrl })
  await client.connect()
  const out: Record<string, Record<string, string>> = {}
  for (const key of await client.keys(`${prefix}breaker:*`)) out[key] = await client.hGetAll(key)
  await client.close()
  return out
}

afterAll(async () => {
  const client = createClient({ url: redisUrl })
  await client.connect()
  const keys = await client.keys(`${prefix}*`)
  if (keys.length > 0) await client.del(keys)
  await client.close()
})

describeRedis("BreakerStep: circuit state persisted in Redis across restarts", () => {
  it(
    "a circuit opened before a restart stays open after it until the open time, then one probe of two runtimes closes it",
    async () => {
      // process 1: one failure opens the circuit; a second call is rejected without reaching the provider
      const openedAt = Date.now()
      await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
        const llm = yield* start
        const failed = yield* Effect.exit(llm.generate(ask("one")))
        expect(Exit.isFailure(failed)).toBe(true)
        expect(rejection(failed)).toBeUndefined() // the provider's own error
        expect(provider.calls).toBe(1)
        expect(rejection(yield* Effect.exit(llm.generate(ask("two"))))).toBe("CircuitOpen")
        expect(provider.calls).toBe(1)
      })))
      // the runtime is gone; the circuit is a hash under the prefix, Open, kept past its open time
      const stored = Object.values(await breakerKeys())
      expect(stored).toHaveLength(1)
      expect(stored[0]?.["state"]).toBe("Open")

      // process 2, built afresh on the same prefix: still open, though the provider is up again
      provider.up = true
      await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
        const llm = yield* start
        const exit = yield* Effect.exit(llm.generate(ask("three")))
        expect(Date.now() - openedAt).toBeLessThan(openMillis) // still within the open time
        expect(rejection(exit)).toBe("CircuitOpen")
        expect(provider.calls).toBe(1)
      })))

      // after the open time: two runtimes probe at once; one probe reaches the provider, the other is turned away
      const wait = openMillis - (Date.now() - openedAt) + 200
      if (wait > 0) {
        await new Promise((r) => {
          setTimeout(r, wait)
        })
      }
      await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
        const [a, b] = yield* Effect.all([start, start], { concurrency: 2 })
        const [first, second] = yield* Effect.all([
          Effect.exit(a.generate(ask("probe"))),
          Effect.exit(Effect.delay(b.generate(ask("probe")), Duration.millis(100)))
        ], { concurrency: 2 })
        expect(provider.calls).toBe(2)
        expect(Exit.isSuccess(first)).toBe(true)
        expect(rejection(second)).toBe("CircuitHalfOpen")
        // the probe closed the circuit for both
        expect(Exit.isSuccess(yield* Effect.exit(b.generate(ask("four"))))).toBe(true)
        expect(provider.calls).toBe(3)
      })))
      expect(Object.values(await breakerKeys())[0]?.["state"]).toBe("Closed")
    },
    20_000
  )
})
