/**
 * Budgets across OS processes (issue 15): 1,000 concurrent fibers in 4 processes with random estimated and actual
 * costs against one budget, on Redis and on PostgreSQL — total settled spend never exceeds the limit and no
 * reservation is leaked; a process killed mid-call leaves holds that expire and are released.
 */
import { NodeRedis } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import type { ChildProcess } from "node:child_process"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { afterAll } from "vitest"
import { Budgets } from "../../src/budget/index.ts"
import { describePostgres, dropSchemaPromise, pgLayer, uniqueSchema } from "../support/postgres.ts"
import { cleanupRedisPrefix, describeRedis, redisUrl, uniquePrefix } from "../support/redis.ts"

const worker = fileURLToPath(new URL("./support/budgetWorker.ts", import.meta.url))
const LIMIT = 5

/** Starts a worker; resolves with its first JSON line. */
const start = (
  args: ReadonlyArray<string>
): { readonly child: ChildProcess; readonly line: Promise<Record<string, number>> } => {
  const child = spawn(process.execPath, [worker, ...args], { stdio: ["ignore", "pipe", "pipe"] })
  let out = ""
  let err = ""
  const line = new Promise<Record<string, number>>((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString()
      const nl = out.indexOf("\n")
      if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)) as Record<string, number>)
    })
    child.stderr?.on("data", (chunk: Buffer) => void (err += chunk.toString()))
    child.on("exit", (code) => {
      if (!out.includes("\n")) reject(new Error(`worker exited with ${code}: ${err.slice(0, 2000)}`))
    })
  })
  return { child, line }
}

const crossProcess = (backend: "redis" | "postgres", name: string, layer: () => Layer.Layer<Budgets, unknown>) => {
  const stateOf = (scope: string) =>
    Effect.gen(function*() {
      const budgets = yield* Budgets
      return Option.getOrThrow(yield* budgets.get(scope))
    })
  const state = stateOf("tenant:load")

  it.live(
    "1,000 fibers in 4 processes: settled spend never exceeds the limit, no reservation is leaked",
    () =>
      Effect.gen(function*() {
        const budgets = yield* Budgets
        yield* budgets.set({ scope: "tenant:load", limit: LIMIT, period: "total" })
        yield* budgets.set({ scope: "key:load", limit: 100, period: "total" })
        const runs = yield* Effect.promise(() =>
          Promise.all([1, 2, 3, 4].map((seed) => start([backend, name, "250", String(seed)]).line))
        )
        const s = yield* state
        const admitted = runs.reduce((n, r) => n + (r["admitted"] ?? 0), 0)
        const refused = runs.reduce((n, r) => n + (r["refused"] ?? 0), 0)
        const settled = runs.reduce((n, r) => n + (r["settled"] ?? 0), 0)
        assert.strictEqual(admitted + refused, 1000)
        assert.isAbove(refused, 0) // demand (~50 USD estimated) is well above the limit
        assert.isAtMost(s.spent, LIMIT)
        assert.closeTo(s.spent, settled, 1e-3) // what the processes settled is what the store holds
        assert.strictEqual(s.reserved, 0)
      }).pipe(Effect.provide(layer())),
    120_000
  )

  it.live("a process killed mid-call: its holds expire and are released", () =>
    Effect.gen(function*() {
      const budgets = yield* Budgets
      yield* budgets.set({ scope: "tenant:hold", limit: LIMIT, period: "total" })
      const hold = stateOf("tenant:hold")
      const before = (yield* hold).reserved
      const { child, line } = start([backend, name, "20", "9", "hold"])
      yield* Effect.promise(() => line)
      assert.closeTo((yield* hold).reserved - before, 0.2, 1e-9)
      child.kill("SIGKILL")
      yield* Effect.sleep("2500 millis") // the holds' ttl is 2 s
      assert.strictEqual((yield* hold).reserved, before)
    }).pipe(Effect.provide(layer())), 60_000)
}

describeRedis("Budgets across processes on Redis", () => {
  const prefix = uniquePrefix("budget-procs")
  afterAll(async () => {
    await Effect.runPromise(cleanupRedisPrefix(prefix).pipe(Effect.provide(NodeRedis.layer({ url: redisUrl }))))
  })
  crossProcess(
    "redis",
    prefix,
    () => Budgets.layerRedis({ prefix }).pipe(Layer.provide(NodeRedis.layer({ url: redisUrl })))
  )
})

describePostgres("Budgets across processes on PostgreSQL", () => {
  const schema = uniqueSchema("budget_procs")
  afterAll(() => dropSchemaPromise(schema))
  crossProcess("postgres", schema, () => Budgets.layerPostgres({ schema }).pipe(Layer.provide(pgLayer)))
})
