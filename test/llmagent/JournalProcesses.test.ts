/**
 * The SIGKILL test of durable agent runs (issue 16 §1): a child OS process runs multi-step runs on
 * `ClusterWorkflowEngine` over PostgreSQL against a scripted provider that counts requests and paid calls in
 * PostgreSQL; the test kills it (SIGKILL) at random points and restarts it until all runs complete.
 * Default: 20 runs of 3 steps, 3 kills (JOURNAL_RUNS / JOURNAL_KILLS override; 200 runs is the soak setting).
 */
import { assert, it } from "@effect/vitest"
import { PgClient } from "@effect/sql-pg"
import { Effect, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import type { ChildProcess } from "node:child_process"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { afterAll } from "vitest"
import { databaseUrl, describePostgres, pgLayer } from "../support/postgres.ts"

const worker = fileURLToPath(new URL("./support/journalWorker.ts", import.meta.url))
const RUNS = Number(process.env["JOURNAL_RUNS"] ?? 20)
const STEPS = 3
const KILLS = Number(process.env["JOURNAL_KILLS"] ?? 3)
const db = `troupe_journal_${process.pid}_${Date.now()}`
const dbUrl = (() => {
  const u = new URL(databaseUrl)
  u.pathname = `/${db}`
  return u.toString()
})()

const admin = (statement: string) =>
  Effect.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(statement)).pipe(Effect.provide(pgLayer)))

/** Starts the worker; `ready` resolves when it has built its layers, `done` when every run completed. */
const start = () => {
  const child: ChildProcess = spawn(process.execPath, [worker, dbUrl, String(RUNS), String(STEPS)], {
    stdio: ["ignore", "pipe", "pipe"]
  })
  let out = ""
  let err = ""
  let onReady = (): void => undefined
  const ready = new Promise<void>((resolve) => { void (onReady = resolve) })
  const done = new Promise<boolean>((resolve) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString()
      if (out.includes(`"ready"`)) onReady()
      if (out.includes(`"done"`)) resolve(true)
    })
    child.stderr?.on("data", (chunk: Buffer) => void (err += chunk.toString()))
    child.on("exit", (code, signal) => {
      onReady()
      if (!out.includes(`"done"`)) {
        if (signal === "SIGKILL") resolve(false)
        else resolve(Promise.reject(new Error(`worker exited with ${code}: ${err.slice(0, 2000)}`)))
      }
    })
  })
  return { child, ready, done }
}

describePostgres("Journal across SIGKILL: a run interrupted by a process crash resumes from the last journaled step", () => {
  afterAll(() => admin(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`))

  it.live(`${RUNS} runs killed ${KILLS} times: every run completes, no journaled step repeats, no paid call is repeated`, () =>
    Effect.gen(function*() {
      yield* Effect.promise(() => admin(`CREATE DATABASE "${db}"`))
      let kills = 0
      let finished = false
      const recoveries: Array<number> = []
      while (!finished) {
        const spawned = Date.now()
        const w = start()
        if (kills < KILLS) {
          yield* Effect.promise(() => w.ready)
          if (kills > 0) recoveries.push(Date.now() - spawned)
          const delay = 100 + Math.floor(Math.random() * 900)
          const raced = yield* Effect.promise(() =>
            Promise.race([w.done, new Promise<"kill">((r) => { setTimeout(() => r("kill"), delay) })])
          )
          if (raced === "kill") {
            w.child.kill("SIGKILL")
            kills++
            yield* Effect.promise(() => w.done)
            continue
          }
          finished = raced
        } else {
          finished = yield* Effect.promise(() => w.done)
        }
      }
      const sql = yield* SqlClient.SqlClient
      const calls = yield* sql.unsafe<{ key: string; requests: number }>(`SELECT key, requests FROM provider_calls`)
      const tools = yield* sql.unsafe<{ key: string; runs: number }>(`SELECT key, runs FROM tool_runs`)
      const ledger = yield* sql.unsafe<{ n: string }>(`SELECT count(*)::text AS n FROM troupe_tool_ledger`)
      const unknown = RUNS * STEPS - tools.length
      const repeatsSeen = calls.reduce((n, c) => n + c.requests - 1, 0)
      console.log(JSON.stringify({ runs: RUNS, steps: STEPS, kills, repeatedRequests: repeatsSeen, toolOutcomeUnknown: unknown, restartToReadyMs: recoveries }))
      // every step of every run was paid exactly once (one key each)
      assert.strictEqual(calls.length, RUNS * STEPS)
      // a model request is repeated only when it was in flight at a kill (at most one per run per kill)
      const repeats = calls.reduce((n, c) => n + c.requests - 1, 0)
      assert.isAtMost(repeats, kills * Math.min(RUNS, 16))
      // a non-idempotent tool ran at most once per idempotency key
      for (const t of tools) assert.strictEqual(t.runs, 1, t.key)
      assert.strictEqual(Number(ledger[0]?.n), RUNS * STEPS)
      assert.isAtLeast(tools.length, RUNS * STEPS - kills * 16)
    }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(dbUrl), maxConnections: 2 }))), { timeout: 120_000 })
})
