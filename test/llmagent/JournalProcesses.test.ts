/**
 * The SIGKILL test of durable agent runs (issue 16 §1): a child OS process runs multi-step runs on
 * `ClusterWorkflowEngine` over PostgreSQL against a scripted provider that counts requests and paid calls in
 * PostgreSQL; the test kills it (SIGKILL) at random points and restarts it until all runs complete.
 * Default: the 200 runs of 3 steps, 3 kills (JOURNAL_RUNS / JOURNAL_KILLS override).
 *
 * The second test does the same with durable `LlmAgents` turns (support/durableTurnsWorker.ts): 6 agents, each one
 * turn of 3 model calls and 2 tool calls (one not idempotent), 3 kills (JOURNAL_AGENTS / JOURNAL_AGENT_KILLS); it
 * also measures the recovery time, from the restart to the first step the resumed runs execute.
 */
import { PgClient } from "@effect/sql-pg"
import { assert, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import type { ChildProcess } from "node:child_process"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { afterAll } from "vitest"
import { databaseUrl, describePostgres, pgLayer } from "../support/postgres.ts"

const worker = fileURLToPath(new URL("./support/journalWorker.ts", import.meta.url))
const turnsWorker = fileURLToPath(new URL("./support/durableTurnsWorker.ts", import.meta.url))
const AGENTS = Number(process.env["JOURNAL_AGENTS"] ?? 6)
const AGENT_KILLS = Number(process.env["JOURNAL_AGENT_KILLS"] ?? 3)
const RUNS = Number(process.env["JOURNAL_RUNS"] ?? 200)
const STEPS = 3
const KILLS = Number(process.env["JOURNAL_KILLS"] ?? 3)
const db = `troupe_journal_${process.pid}_${Date.now()}`
const urlOf = (name: string) => {
  const u = new URL(databaseUrl)
  u.pathname = `/${name}`
  return u.toString()
}
const dbUrl = urlOf(db)
const turnsDb = `${db}_turns`
const turnsUrl = urlOf(turnsDb)

const admin = (statement: string) =>
  Effect.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) => sql.unsafe(statement)).pipe(Effect.provide(pgLayer)))

/**
 * Starts a worker; `ready` resolves when it has built its layers, `progress` at its first step (workers that
 * report it), `done` when every run completed.
 */
const start = (args: ReadonlyArray<string> = [worker, dbUrl, String(RUNS), String(STEPS)]) => {
  const child: ChildProcess = spawn(process.execPath, [...args], {
    stdio: ["ignore", "pipe", "pipe"]
  })
  let out = ""
  let err = ""
  let onReady = (): void => undefined
  const ready = new Promise<void>((resolve) => {
    void (onReady = resolve)
  })
  let onProgress = (_: number): void => undefined
  const progress = new Promise<number>((resolve) => {
    void (onProgress = resolve)
  })
  const spawnedAt = Date.now()
  const done = new Promise<boolean>((resolve) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString()
      if (out.includes(`"ready"`)) onReady()
      if (out.includes(`"progress"`)) onProgress(Date.now() - spawnedAt)
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
  return { child, ready, progress, done }
}

describePostgres(
  "Journal across SIGKILL: a run interrupted by a process crash resumes from the last journaled step",
  () => {
    afterAll(async () => {
      await admin(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`)
      await admin(`DROP DATABASE IF EXISTS "${turnsDb}" WITH (FORCE)`)
    })

    it.live(
      `${RUNS} runs killed ${KILLS} times: every run completes, no journaled step repeats, no paid call is repeated`,
      () =>
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
                Promise.race([
                  w.done,
                  new Promise<"kill">((r) => {
                    setTimeout(() => r("kill"), delay)
                  })
                ])
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
          console.log(
            JSON.stringify({
              runs: RUNS,
              steps: STEPS,
              kills,
              repeatedRequests: repeatsSeen,
              toolOutcomeUnknown: unknown,
              restartToReadyMs: recoveries
            })
          )
          // every step of every run was paid exactly once (one key each)
          assert.strictEqual(calls.length, RUNS * STEPS)
          // a model request is repeated only when it was in flight at a kill: each step at most once per kill, and at
          // most one step per run per kill (a run has one call in flight; every run of the engine may be in flight)
          for (const c of calls) assert.isAtMost(c.requests - 1, kills, c.key)
          const repeats = calls.reduce((n, c) => n + c.requests - 1, 0)
          assert.isAtMost(repeats, kills * RUNS)
          // a non-idempotent tool ran at most once per idempotency key
          for (const t of tools) assert.strictEqual(t.runs, 1, t.key)
          assert.strictEqual(Number(ledger[0]?.n), RUNS * STEPS)
          // a tool outcome is unknown only for a tool in flight at a kill (at most one per run per kill)
          assert.isAtLeast(tools.length, RUNS * STEPS - kills * RUNS)
        }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(dbUrl), maxConnections: 2 }))),
      { timeout: 120_000 }
    )

    it.live(
      `durable LlmAgents turns: ${AGENTS} agents killed ${AGENT_KILLS} times: every turn completes, no answered model call is repeated, no non-idempotent tool runs twice`,
      () =>
        Effect.gen(function*() {
          yield* Effect.promise(() => admin(`CREATE DATABASE "${turnsDb}"`))
          let kills = 0
          let finished = false
          const recoveries: Array<number> = []
          while (!finished) {
            const w = start([turnsWorker, turnsUrl, String(AGENTS)])
            if (kills > 0) {
              // recovery: from the restart to the first step the resumed runs execute
              const first = yield* Effect.promise(() => Promise.race([w.progress, w.done.then(() => -1)]))
              if (first >= 0) recoveries.push(first)
            }
            if (kills < AGENT_KILLS) {
              yield* Effect.promise(() => w.ready)
              const delay = 150 + Math.floor(Math.random() * 400)
              const raced = yield* Effect.promise(() =>
                Promise.race([
                  w.done,
                  new Promise<"kill">((r) => {
                    setTimeout(() => r("kill"), delay)
                  })
                ])
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
          const runs = yield* sql.unsafe<{ agent_id: string; outcome: string | null; steps: string }>(
            `SELECT r.agent_id, r.outcome, (SELECT count(*) FROM troupe_run_steps s WHERE s.run_id = r.run_id)::text AS steps FROM troupe_runs r`
          )
          const sorted = [...recoveries].sort((a, b) => a - b)
          const median = sorted.length === 0 ? undefined : sorted[Math.floor(sorted.length / 2)]
          console.log(JSON.stringify({
            agents: AGENTS,
            kills,
            repeatedRequests: calls.reduce((n, c) => n + c.requests - 1, 0),
            recoveryMs: recoveries,
            recoveryMedianMs: median
          }))
          // one run per agent, every one answered, with its 5 journaled steps (3 model calls, 2 tool calls)
          assert.strictEqual(runs.length, AGENTS)
          for (const r of runs) {
            assert.strictEqual(r.outcome, "answered", r.agent_id)
            assert.strictEqual(Number(r.steps), 5, r.agent_id)
          }
          // every model call of every turn was paid: one key each; a request repeats only when in flight at a kill
          assert.strictEqual(calls.length, AGENTS * 3)
          assert.isAtMost(calls.reduce((n, c) => n + c.requests - 1, 0), kills * AGENTS)
          // a non-idempotent tool ran at most once per turn
          for (const t of tools.filter((t) => t.key.startsWith("charge/"))) assert.strictEqual(t.runs, 1, t.key)
        }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(turnsUrl), maxConnections: 2 }))),
      { timeout: 240_000 }
    )
  }
)
