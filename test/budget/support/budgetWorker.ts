/**
 * One OS process of the cross-process budget tests: `node budgetWorker.ts <redis|postgres> <prefix-or-schema>
 * <fibers> <seed> [hold]`. Runs `fibers` concurrent calls under `withBudget` against the `load` budget (random
 * estimated cost, actual cost at most the estimate) and prints one JSON line: admitted, refused, settled (USD).
 * With `hold`, it instead reserves `fibers` amounts, prints `held`, and waits to be killed.
 */
import { NodeRedis } from "@effect/platform-node"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Random, Redacted } from "effect"
import { Budgets } from "../../../src/budget/index.ts"

const [backend, name, fibersArg, seedArg, mode] = process.argv.slice(2)
const fibers = Number(fibersArg)
const layer: Layer.Layer<Budgets, unknown> = backend === "redis"
  ? Budgets.layerRedis({ prefix: name ?? "" }).pipe(
    Layer.provide(NodeRedis.layer({ url: process.env["REDIS_URL"] ?? "redis://127.0.0.1:6379" }))
  )
  : Budgets.layerPostgres({ schema: name ?? "" }).pipe(
    Layer.provide(
      PgClient.layer({
        url: Redacted.make(process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/test"),
        maxConnections: 8
      })
    )
  )

const program = Effect.gen(function*() {
  const budgets = yield* Budgets
  if (mode === "hold") {
    for (let i = 0; i < fibers; i++) yield* budgets.reserve({ scopes: ["tenant:hold"], amount: 0.01, ttl: "2 seconds" })
    process.stdout.write(JSON.stringify({ held: fibers }) + "\n")
    return yield* Effect.never
  }
  let admitted = 0
  let refused = 0
  let settled = 0
  yield* Effect.forEach(Array.from({ length: fibers }, (_, i) => i), (_i) =>
    Effect.gen(function*() {
      const amount = (yield* Random.nextIntBetween(1, 200)) / 1000
      const share = yield* Random.next
      const actual = Math.floor(amount * share * 1e6) / 1e6
      const ok = yield* Effect.exit(
        budgets.withBudget(Effect.sleep("1 millis"), {
          scopes: ["key:load", "tenant:load"],
          amount,
          actual: () => actual
        })
      )
      if (ok._tag === "Success") {
        admitted++
        settled += actual
      } else refused++
    }), { concurrency: "unbounded", discard: true })
  process.stdout.write(JSON.stringify({ admitted, refused, settled }) + "\n")
}).pipe(Effect.provide(layer), Random.withSeed(Number(seedArg)))

Effect.runPromise(program).then(() => process.exit(0), (e) => {
  process.stderr.write(String(e) + "\n")
  process.exit(1)
})
