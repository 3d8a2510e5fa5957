/**
 * A redrive whose process dies: a child process records a letter on Redis and is SIGKILLed inside its redrive
 * handler, leaving the letter claimed (`redriving`); another process redrives it once the claim's lease has passed,
 * and not before (a queue whose lease has not passed skips it). Real time, no sleep: the child's start takes far
 * longer than the 1 ms lease (jumping the TestClock to the child's epoch hangs under the Redis client's layer).
 */
import { NodeRedis } from "@effect/platform-node"
import { assert, it } from "@effect/vitest"
import { Context, type Duration, Effect, Layer } from "effect"
import { spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { afterAll } from "vitest"
import { DeadLetters } from "../../src/dlq/index.ts"
import { cleanupRedisPrefix, describeRedis, redisUrl, uniquePrefix } from "../support/redis.ts"

const redisLayer = NodeRedis.layer({ url: redisUrl })
const child = fileURLToPath(new URL("./fixtures/redriveCrashChild.ts", import.meta.url))

describeRedis("DeadLetters: a redrive whose process is killed", () => {
  const prefix = uniquePrefix("dlq-crash")
  afterAll(async () => {
    await Effect.runPromise(cleanupRedisPrefix(prefix).pipe(Effect.provide(redisLayer)))
  })

  it.live(
    "a letter claimed by a process killed mid-redrive is redriven by another process once redriveLease has passed, and not before",
    () => {
      let redriven = 0
      // two queues over the child's prefix: one whose lease (1 hour) has not passed, one whose lease (1 ms) has
      const queue = (redriveLease: Duration.Input) =>
        Effect.map(
          Layer.build(
            DeadLetters.layerRedis({ prefix, redriveLease, redrive: () => Effect.sync(() => void redriven++) }).pipe(
              Layer.provide(redisLayer)
            )
          ),
          (context) => Context.get(context, DeadLetters)
        )
      return Effect.scoped(Effect.gen(function*() {
        const killed = yield* Effect.sync(() =>
          spawnSync(process.execPath, [child, prefix, redisUrl], { timeout: 20_000, encoding: "utf8" })
        )
        assert.strictEqual(killed.signal, "SIGKILL", killed.stderr)
        const within = yield* queue("1 hour")
        const past = yield* queue("1 millis")
        const claimed = yield* within.inspect("letter-1")
        assert.strictEqual(claimed.status, "redriving")
        assert.isNumber(claimed.claimedAt)
        assert.deepStrictEqual(yield* within.redriveMany(), [])
        assert.deepStrictEqual(yield* within.redrive("letter-1"), { id: "letter-1", result: "skipped" })
        assert.deepStrictEqual(yield* past.redriveMany(), [{ id: "letter-1", result: "redriven" }])
        assert.deepStrictEqual(yield* past.redrive("letter-1"), { id: "letter-1", result: "skipped" })
        const letter = yield* past.inspect("letter-1")
        assert.strictEqual(letter.status, "redriven")
        assert.strictEqual(letter.redrives, 1)
        assert.strictEqual(redriven, 1)
      }))
    },
    30_000
  )
})
