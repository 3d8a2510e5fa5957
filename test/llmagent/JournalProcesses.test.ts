/**
 * The SIGKILL test of durable agent runs (issue 16 §1): a child OS process runs multi-step runs on
 * `ClusterWorkflowEngine` over PostgreSQL; the test kills it (SIGKILL) and restarts it until all runs complete.
 * Default: the 200 runs of 3 steps (a model call and a non-idempotent tool each), 3 kills (JOURNAL_RUNS /
 * JOURNAL_KILLS override).
 *
 * What is killed and what observes it are separate processes: the model and the tools are requests to a loopback
 * fake provider in the test process (support/crashHarness.ts), which logs every request with its step key and the
 * worker's incarnation, and bills a model call when it answers it. The kills are planned: before the first start
 * the test draws one random threshold per kill (a number of journaled steps, between 10% and 85% of all steps); the
 * incarnation whose journal reaches its threshold is killed 0–20 ms later, so every planned kill happens.
 * Between a kill and the restart, once the killed worker's connections are gone, the test reads the journal — the
 * engine's own storage: the activities with a `Complete` reply — so it knows exactly which steps were journaled
 * before each kill. The assertions: every run completes; no step journaled before a kill is requested (or run) again
 * after it; only the step in flight at a kill repeats (at most one per run per kill, never twice in one process);
 * a model call is billed again only when its answer was not journaled before the kill; every step is journaled
 * exactly once; a non-idempotent tool runs at most once.
 *
 * The second test does the same with durable `LlmAgents` turns (support/durableTurnsWorker.ts): 6 agents, each one
 * turn of 3 model calls and 2 tool calls (one not idempotent), 3 kills (JOURNAL_AGENTS / JOURNAL_AGENT_KILLS).
 */
import { PgClient } from "@effect/sql-pg"
import { assert, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { fileURLToPath } from "node:url"
import { afterAll } from "vitest"
import { databaseUrl, describePostgres, pgLayer } from "../support/postgres.ts"
import {
  backendsGone,
  journaled,
  journaledCount,
  type JournaledStep,
  median,
  type ProviderRequest,
  spawnWorker,
  startProvider,
  thresholds
} from "./support/crashHarness.ts"

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

interface Soak {
  /** every request the provider received, in arrival order */
  readonly requests: ReadonlyArray<ProviderRequest>
  readonly planned: ReadonlyArray<number>
  /** `atKill[k]`: the step keys journaled when kill k+1 happened (read between the kill and the restart) */
  readonly atKill: ReadonlyArray<ReadonlySet<string>>
  /** the journal once every run completed */
  readonly final: ReadonlyArray<{ readonly key: string; readonly failure: boolean }>
  /** per restart: from spawning the process to its first request to the provider */
  readonly recoveries: ReadonlyArray<number>
}

/**
 * Runs the worker (`args(inc, providerUrl)`) until it reports all runs done, killing incarnation k 0–20 ms after the
 * journal holds the k-th of `kills` random thresholds of journaled steps (out of `steps`).
 */
const soak = (options: {
  readonly args: (inc: number, provider: string) => ReadonlyArray<string>
  readonly kills: number
  readonly steps: number
  readonly keyOf: (step: JournaledStep) => string
}) =>
  Effect.gen(function*() {
    const provider = yield* Effect.acquireRelease(
      Effect.promise(() => startProvider({ modelMs: 15, toolMs: 10 })),
      (p) => Effect.promise(() => p.close())
    )
    const lo = Math.max(1, Math.floor(options.steps * 0.1)), hi = Math.floor(options.steps * 0.85)
    const planned = thresholds(options.kills, lo, hi, Math.max(1, Math.min(lo, Math.floor((hi - lo) / options.kills))))
    const atKill: Array<ReadonlySet<string>> = []
    const spawnedAt: Array<number> = []
    for (let inc = 1;; inc++) {
      const w = spawnWorker(options.args(inc, provider.url))
      spawnedAt[inc] = w.spawnedAt
      const threshold = planned[inc - 1]
      const killAtThreshold = Effect.gen(function*() {
        if (threshold === undefined) return yield* Effect.never
        while ((yield* journaledCount) < threshold) yield* Effect.sleep("10 millis")
        yield* Effect.sleep(`${Math.floor(Math.random() * 20)} millis`)
        w.kill()
        return yield* Effect.never
      })
      if (yield* Effect.race(Effect.promise(() => w.done), killAtThreshold)) break
      yield* backendsGone("troupe-journal-worker")
      atKill.push(new Set((yield* journaled).map(options.keyOf)))
    }
    const recoveries = spawnedAt.flatMap((at, inc) => {
      const first = provider.requests.find((r) => r.inc === inc)
      return inc > 1 && first !== undefined ? [first.at - at] : []
    })
    const final = (yield* journaled).map((s) => ({ key: options.keyOf(s), failure: s.failure }))
    return { requests: [...provider.requests], planned, atKill, final, recoveries } satisfies Soak
  })

/** The run of a step key `<run>/model/<n>` or `<run>/tool/<n>`. */
const runOf = (key: string) => key.replace(/\/(model|tool)\/\d+$/, "")

/** The rules of the test, as lists of violations (each list must be empty). */
const check = (soak: Soak) => {
  const { requests, atKill } = soak
  const kills = atKill.length
  // a step journaled before kill k is never requested (nor run) by an incarnation after k
  const journaledThenRequested = requests.flatMap((r) =>
    atKill.slice(0, r.inc - 1).some((keys) => keys.has(r.key)) ? [`${r.key} (inc ${r.inc})`] : []
  )
  // a step is requested at most once per process
  const perProcess = new Map<string, number>()
  for (const r of requests) perProcess.set(`${r.key}@${r.inc}`, (perProcess.get(`${r.key}@${r.inc}`) ?? 0) + 1)
  const twiceInOneProcess = [...perProcess].flatMap(([k, n]) => (n > 1 ? [k] : []))
  // only the step in flight at kill k repeats: per run, at most one step requested both by incarnation k and later
  const moreThanOneInFlight: Array<string> = []
  for (let k = 1; k <= kills; k++) {
    const before = new Set(requests.filter((r) => r.inc === k).map((r) => r.key))
    const again = new Set(requests.filter((r) => r.inc > k && before.has(r.key)).map((r) => r.key))
    const perRun = new Map<string, Array<string>>()
    for (const key of again) perRun.set(runOf(key), [...(perRun.get(runOf(key)) ?? []), key])
    for (const [run, keys] of perRun) if (keys.length > 1) moreThanOneInFlight.push(`kill ${k}: ${run}: ${keys}`)
  }
  // a model call is billed again only when its answer was not journaled before the kill ending the billing process
  const billed = requests.filter((r) => r.kind === "model" && r.billed)
  const paidTwice = billed.flatMap((r) =>
    billed.some((later) => later.key === r.key && later.inc > r.inc) && (atKill[r.inc - 1]?.has(r.key) ?? true)
      ? [`${r.key} (billed by inc ${r.inc}, journaled before its kill)`]
      : []
  )
  // every step of every run journaled exactly once
  const journaledCount = new Map<string, number>()
  for (const s of soak.final) journaledCount.set(s.key, (journaledCount.get(s.key) ?? 0) + 1)
  const journaledTwice = [...journaledCount].flatMap(([k, n]) => (n > 1 ? [k] : []))
  const repeatedRequests = requests.length - new Set(requests.map((r) => `${r.kind}:${r.key}`)).size
  const repeatedBills = billed.length - new Set(billed.map((r) => r.key)).size
  return {
    kills,
    journaledThenRequested,
    twiceInOneProcess,
    moreThanOneInFlight,
    paidTwice,
    journaledTwice,
    journaledCount,
    repeatedRequests,
    repeatedBills
  }
}

/** Tool runs per key (a tool request is the tool running). */
const toolRuns = (soak: Soak, tool: (key: string) => boolean) => {
  const runs = new Map<string, number>()
  for (const r of soak.requests) if (r.kind === "tool" && tool(r.key)) runs.set(r.key, (runs.get(r.key) ?? 0) + 1)
  return runs
}

const assertRules = (soak: Soak, planned: number) => {
  const c = check(soak)
  // the planned kills all happened
  assert.strictEqual(c.kills, planned)
  assert.deepStrictEqual(c.journaledThenRequested, [], "a step journaled before a kill was requested again")
  assert.deepStrictEqual(c.twiceInOneProcess, [], "a step was requested twice by one process")
  assert.deepStrictEqual(c.moreThanOneInFlight, [], "more than one step of a run repeated after a kill")
  assert.deepStrictEqual(c.paidTwice, [], "a model call answered and journaled was billed again")
  assert.deepStrictEqual(c.journaledTwice, [], "a step was journaled twice")
  return c
}

describePostgres(
  "Journal across SIGKILL: a run interrupted by a process crash resumes from the last journaled step",
  () => {
    afterAll(async () => {
      await admin(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`)
      await admin(`DROP DATABASE IF EXISTS "${turnsDb}" WITH (FORCE)`)
    })

    it.live(
      `${RUNS} runs killed ${KILLS} times: every run completes, no journaled step repeats, no answered (journaled) call is paid again`,
      () =>
        Effect.gen(function*() {
          yield* Effect.promise(() => admin(`CREATE DATABASE "${db}"`))
          const started = Date.now()
          const result = yield* soak({
            args: (inc, provider) => [worker, dbUrl, provider, String(inc), String(RUNS), String(STEPS)],
            kills: KILLS,
            steps: RUNS * STEPS * 2,
            // the run's payload is { runId, steps }; its activities are model/<i> and tool/<i>
            keyOf: (s) => `${String(s.run["runId"])}/${s.activity}`
          })
          const c = assertRules(result, KILLS)
          const unknown = result.final.filter((s) => s.failure)
          const runs = toolRuns(result, () => true)
          console.log(JSON.stringify({
            runs: RUNS,
            steps: STEPS,
            planned: result.planned,
            kills: c.kills,
            journaledAtKills: result.atKill.map((s) => s.size),
            repeatedRequests: c.repeatedRequests,
            repeatedBills: c.repeatedBills,
            toolOutcomeUnknown: unknown.length,
            restartToFirstRequestMs: result.recoveries,
            ms: Date.now() - started
          }))
          // every run completed: every step of every run journaled (exactly once, checked above)
          assert.strictEqual(c.journaledCount.size, RUNS * STEPS * 2)
          // every model step was billed; a non-idempotent tool ran at most once per idempotency key
          assert.strictEqual(new Set(result.requests.filter((r) => r.billed).map((r) => r.key)).size, RUNS * STEPS)
          for (const [key, n] of runs) assert.strictEqual(n, 1, key)
          // a tool outcome is unknown (reported, not re-run) only for a tool in flight at a kill: at most one per run
          // per kill, and never for a tool that ran after the kill
          assert.isAtMost(unknown.length, c.kills * RUNS)
          // the kills landed while steps ran: some step was in flight (requested again, or its tool outcome unknown)
          assert.isAbove(c.repeatedRequests + unknown.length, 0)
          for (const s of unknown) assert.isTrue(s.key.includes("/tool/"), s.key)
        }).pipe(
          Effect.scoped,
          Effect.provide(PgClient.layer({ url: Redacted.make(dbUrl), maxConnections: 2 }))
        ),
      { timeout: 120_000 }
    )

    it.live(
      `durable LlmAgents turns: ${AGENTS} agents killed ${AGENT_KILLS} times: every turn completes, no journaled step repeats, no answered (journaled) call is paid again, no non-idempotent tool runs twice`,
      () =>
        Effect.gen(function*() {
          yield* Effect.promise(() => admin(`CREATE DATABASE "${turnsDb}"`))
          const started = Date.now()
          const result = yield* soak({
            args: (inc, provider) => [turnsWorker, turnsUrl, provider, String(inc), String(AGENTS)],
            kills: AGENT_KILLS,
            steps: AGENTS * 5,
            // the run's payload is { runId, agentId, input, maxSteps }; its activities are model/<n>, tool/<n>/<i>
            keyOf: (s) => `${String(s.run["input"])}/${s.activity.replace(/^(tool\/\d+)\/\d+$/, "$1")}`
          })
          const c = assertRules(result, AGENT_KILLS)
          const sql = yield* SqlClient.SqlClient
          const runs = yield* sql.unsafe<{ agent_id: string; outcome: string | null; steps: string }>(
            `SELECT r.agent_id, r.outcome, (SELECT count(*) FROM troupe_run_steps s WHERE s.run_id = r.run_id)::text AS steps FROM troupe_runs r`
          )
          const unknown = result.final.filter((s) => s.failure)
          console.log(JSON.stringify({
            agents: AGENTS,
            planned: result.planned,
            kills: c.kills,
            journaledAtKills: result.atKill.map((s) => s.size),
            repeatedRequests: c.repeatedRequests,
            repeatedBills: c.repeatedBills,
            toolOutcomeUnknown: unknown.length,
            restartToFirstRequestMs: result.recoveries,
            restartToFirstRequestMedianMs: median(result.recoveries),
            ms: Date.now() - started
          }))
          // one run per agent, every one answered, with its 5 journaled steps (3 model calls, 2 tool calls)
          assert.strictEqual(runs.length, AGENTS)
          for (const r of runs) {
            assert.strictEqual(r.outcome, "answered", r.agent_id)
            assert.strictEqual(Number(r.steps), 5, r.agent_id)
          }
          assert.strictEqual(c.journaledCount.size, AGENTS * 5)
          // every model call of every turn was billed
          assert.strictEqual(new Set(result.requests.filter((r) => r.billed).map((r) => r.key)).size, AGENTS * 3)
          // a non-idempotent tool (charge, step 1) ran at most once per turn; only it can be ToolOutcomeUnknown
          for (const [key, n] of toolRuns(result, (key) => key.endsWith("/tool/1"))) assert.strictEqual(n, 1, key)
          for (const s of unknown) assert.isTrue(s.key.endsWith("/tool/1"), s.key)
        }).pipe(
          Effect.scoped,
          Effect.provide(PgClient.layer({ url: Redacted.make(turnsUrl), maxConnections: 2 }))
        ),
      { timeout: 120_000 }
    )
  }
)
