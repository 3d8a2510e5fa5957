/**
 * `RunJournal`: the readable record of durable agent runs — what `Journal.replay(runId)`, `GET /admin/runs/{id}`
 * and `troupe replay <run-id>` show, and the list of runs that did not finish, which `LlmAgents` resumes on start.
 *
 * Rules (each has a test in test/llmagent/RunJournalConformance.test.ts):
 * - **A run is recorded when it starts**, before its first step: its id, the definition and agent id, the workflow
 *   and execution id, the input and the start time. **A run that did not finish is listed by `unfinished`** until
 *   its outcome is recorded.
 * - **Every journaled step is recorded in order** (`seq`: the order in which the run asked for its steps), with its
 *   name (`model/<n>`; `tool/<n>/<i>`, the i-th call of the n-th response), kind, time and value (the model
 *   response, the tool result). **The first record of a step wins**: a replay after a
 *   crash records nothing new for the steps it replays, so the journal holds what the provider and the tools
 *   answered, once.
 * - **The first outcome wins** (`answered`, `failed`, `cancelled`), with the finish time and the result.
 * - **Every value is kept as JSON, exactly as given, on every backend** (internal/JournalJson.ts): its JSON copy, so a
 *   caller mutating its object later changes nothing; a value that is not JSON (a `bigint`, a cycle) is kept as
 *   `{ unserialisable: <message> }`; strings, keys included, round-trip exactly — a NUL character or a lone surrogate
 *   (which `jsonb` refuses) is escaped with SOH (`\u0001`) in PostgreSQL and restored when read. **Recording a step's
 *   value never fails because of the value.**
 * - **Reading never re-executes anything**: `get` and `list` only read.
 * - **The memory backend is bounded**: at most `maxRuns` runs (default 10,000; the oldest is dropped first) and
 *   `maxStepsPerRun` steps per run (default 10,000; later steps are counted in `droppedSteps`, not kept).
 *
 * Why a table of our own beside the workflow's: `ClusterWorkflowEngine` stores each activity result as a reply
 * (`cluster_replies`) to an entity message (`cluster_messages`, keyed by a request id and shard, the payload and
 * the exit serialised with the entity's RPC schemas). Reading them back means decoding the cluster's internal
 * message format per entity type, which is not public API, and `WorkflowEngine.layerMemory` keeps nothing
 * readable at all. The journal is therefore written beside each activity (after it returns, so it holds the
 * journaled value), on both engines, and costs one insert per step.
 *
 * Reuses Effect's `SqlClient` (`layerPostgres`, tables `<schema>.troupe_runs` and `<schema>.troupe_run_steps`) and
 * `Clock` for the times; the memory backend is an insertion-ordered `Map`.
 */
import { Clock, Context, Effect, Layer, Option } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import { createTables } from "../internal/PostgresDdl.ts"
import * as JournalJson from "./internal/JournalJson.ts"

/** How a run ended. */
export type RunOutcome = "answered" | "failed" | "cancelled"

/** One journaled step of a run. */
export interface RunStep {
  /** order of the step in the run, from 1 */
  readonly seq: number
  /** the activity name: `model/<n>` or `tool/<n>/<i>` (the i-th call, from 1, of the n-th model response) */
  readonly name: string
  readonly kind: "model" | "tool"
  /** epoch milliseconds of the first record */
  readonly at: number
  /** the model response or the tool result, as journaled */
  readonly value: unknown
}

/** What is recorded when a run starts. */
export interface RunStart {
  readonly runId: string
  /** the definition name */
  readonly agent: string
  readonly agentId: string
  /** the workflow name (one per durable definition) */
  readonly workflow: string
  readonly executionId: string
  readonly input: unknown
  /** the turn's step budget, when it overrode the definition's */
  readonly maxSteps?: number | undefined
  /** epoch milliseconds */
  readonly startedAt: number
}

/** A run without its steps (what `list` returns). */
export interface RunSummary extends RunStart {
  readonly finishedAt: number | undefined
  readonly outcome: RunOutcome | undefined
  /** the answer (`answered`) or the error (`failed`, `cancelled`) */
  readonly result: unknown
  readonly stepCount: number
}

/** A run with its steps in order (what `get` and `Journal.replay` return). */
export interface RunRecord extends RunSummary {
  readonly steps: ReadonlyArray<RunStep>
  /** steps not kept because the memory backend's per-run bound was reached */
  readonly droppedSteps: number
}

/** The service (see the module doc for the rules). PostgreSQL errors are defects of the calling fiber. */
export interface RunJournalShape {
  /** Records the start of a run; a second start of the same id is ignored. */
  readonly start: (run: RunStart) => Effect.Effect<void>
  /** Records a step; the first record of `(runId, name)` wins. */
  readonly step: (
    runId: string,
    step: { readonly seq: number; readonly name: string; readonly kind: RunStep["kind"]; readonly value: unknown }
  ) => Effect.Effect<void>
  /** Records the outcome; the first outcome wins. */
  readonly finish: (runId: string, outcome: RunOutcome, result: unknown) => Effect.Effect<void>
  /** The run with its steps; `None` for an unknown id. */
  readonly get: (runId: string) => Effect.Effect<Option.Option<RunRecord>>
  /** The most recent runs first, optionally of one definition (`agent`) or one agent id (`agentId`). */
  readonly list: (
    options: { readonly agent?: string; readonly agentId?: string; readonly limit: number }
  ) => Effect.Effect<ReadonlyArray<RunSummary>>
  /** Runs of `workflow` that have no outcome, oldest first (at most `limit`). */
  readonly unfinished: (workflow: string, limit: number) => Effect.Effect<ReadonlyArray<RunSummary>>
}

/** Default bound on runs kept by `RunJournal.layerMemory`. */
export const DEFAULT_MAX_RUNS = 10_000
/** Default bound on steps kept per run by `RunJournal.layerMemory`. */
export const DEFAULT_MAX_STEPS_PER_RUN = 10_000

interface MemoryRun {
  readonly start: RunStart
  finishedAt: number | undefined
  outcome: RunOutcome | undefined
  result: unknown
  readonly steps: Map<string, RunStep>
  dropped: number
}

const summaryOf = (run: MemoryRun): RunSummary => ({
  ...run.start,
  finishedAt: run.finishedAt,
  outcome: run.outcome,
  result: run.result,
  stepCount: run.steps.size + run.dropped
})

const makeMemory = (maxRuns: number, maxSteps: number): RunJournalShape => {
  const runs = new Map<string, MemoryRun>()
  return {
    start: (run) =>
      Effect.sync(() => {
        if (runs.has(run.runId)) return
        if (runs.size >= maxRuns) {
          const oldest = runs.keys().next()
          if (oldest.done !== true) runs.delete(oldest.value)
        }
        runs.set(run.runId, {
          start: { ...run, input: JournalJson.copy(run.input) },
          finishedAt: undefined,
          outcome: undefined,
          result: undefined,
          steps: new Map(),
          dropped: 0
        })
      }),
    step: (runId, step) =>
      Effect.flatMap(Clock.currentTimeMillis, (at) =>
        Effect.sync(() => {
          const run = runs.get(runId)
          if (run === undefined || run.steps.has(step.name)) return
          if (run.steps.size >= maxSteps) {
            run.dropped++
            return
          }
          run.steps.set(step.name, {
            seq: step.seq,
            name: step.name,
            kind: step.kind,
            at,
            value: JournalJson.copy(step.value)
          })
        })),
    finish: (runId, outcome, result) =>
      Effect.flatMap(Clock.currentTimeMillis, (at) =>
        Effect.sync(() => {
          const run = runs.get(runId)
          if (run === undefined || run.outcome !== undefined) return
          run.outcome = outcome
          run.result = JournalJson.copy(result)
          run.finishedAt = at
        })),
    get: (runId) =>
      Effect.sync(() => {
        const run = runs.get(runId)
        if (run === undefined) return Option.none()
        const steps = [...run.steps.values()].sort((a, b) => a.seq - b.seq)
        return Option.some({ ...summaryOf(run), steps, droppedSteps: run.dropped })
      }),
    list: (options) =>
      Effect.sync(() => {
        const out: Array<RunSummary> = []
        const all = [...runs.values()]
        for (let i = all.length - 1; i >= 0 && out.length < options.limit; i--) {
          // 0 <= i < all.length
          const run = all[i] as MemoryRun
          if (options.agent !== undefined && run.start.agent !== options.agent) continue
          if (options.agentId !== undefined && run.start.agentId !== options.agentId) continue
          out.push(summaryOf(run))
        }
        return out
      }),
    unfinished: (workflow, limit) =>
      Effect.sync(() => {
        const out: Array<RunSummary> = []
        for (const run of runs.values()) {
          if (out.length >= limit) break
          if (run.outcome === undefined && run.start.workflow === workflow) out.push(summaryOf(run))
        }
        return out
      })
  }
}

interface RunRow {
  readonly run_id: string
  readonly agent: string
  readonly agent_id: string
  readonly workflow: string
  readonly execution_id: string
  readonly input: unknown
  readonly max_steps: number | null
  readonly started_at: string
  readonly finished_at: string | null
  readonly outcome: RunOutcome | null
  readonly result: unknown
  readonly step_count: string
}

interface StepRow {
  readonly seq: number
  readonly name: string
  readonly kind: RunStep["kind"]
  readonly at: string
  readonly value: unknown
}

const fromRow = (row: RunRow): RunSummary => ({
  runId: row.run_id,
  agent: row.agent,
  agentId: row.agent_id,
  workflow: row.workflow,
  executionId: row.execution_id,
  input: JournalJson.decode(row.input),
  ...(row.max_steps === null ? {} : { maxSteps: row.max_steps }),
  startedAt: Number(row.started_at),
  finishedAt: row.finished_at === null ? undefined : Number(row.finished_at),
  outcome: row.outcome ?? undefined,
  result: row.result === null ? undefined : JournalJson.decode(row.result),
  stepCount: Number(row.step_count)
})

const makePostgres = (sql: SqlClient.SqlClient, schema: string): RunJournalShape => {
  const runs = `"${schema}".troupe_runs`
  const steps = `"${schema}".troupe_run_steps`
  const columns =
    `r.run_id, r.agent, r.agent_id, r.workflow, r.execution_id, r.input, r.max_steps, r.started_at::text AS started_at, r.finished_at::text AS finished_at, r.outcome, r.result, (SELECT count(*) FROM ${steps} s WHERE s.run_id = r.run_id)::text AS step_count`
  return {
    start: (run) =>
      sql.unsafe(
        `INSERT INTO ${runs} (run_id, agent, agent_id, workflow, execution_id, input, max_steps, started_at) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8) ON CONFLICT DO NOTHING`,
        [
          run.runId,
          run.agent,
          run.agentId,
          run.workflow,
          run.executionId,
          JournalJson.encode(run.input),
          run.maxSteps ?? null,
          run.startedAt
        ] as ReadonlyArray<string> // the driver takes any primitive parameter
      ).pipe(Effect.asVoid, Effect.orDie),
    step: (runId, step) =>
      Effect.flatMap(Clock.currentTimeMillis, (at) =>
        sql.unsafe(
          `INSERT INTO ${steps} (run_id, seq, name, kind, at, value) VALUES ($1, $2, $3, $4, $5, $6::jsonb) ON CONFLICT DO NOTHING`,
          [runId, step.seq, step.name, step.kind, at, JournalJson.encode(step.value)]
        )).pipe(Effect.asVoid, Effect.orDie),
    finish: (runId, outcome, result) =>
      Effect.flatMap(Clock.currentTimeMillis, (at) =>
        sql.unsafe(
          `UPDATE ${runs} SET outcome = $2, result = $3::jsonb, finished_at = $4 WHERE run_id = $1 AND outcome IS NULL`,
          [runId, outcome, JournalJson.encode(result), at]
        )).pipe(Effect.asVoid, Effect.orDie),
    get: (runId) =>
      Effect.gen(function*() {
        const rows = yield* sql.unsafe<RunRow>(`SELECT ${columns} FROM ${runs} r WHERE r.run_id = $1`, [runId])
        const row = rows[0]
        if (row === undefined) return Option.none<RunRecord>()
        const stepRows = yield* sql.unsafe<StepRow>(
          `SELECT seq, name, kind, at::text AS at, value FROM ${steps} WHERE run_id = $1 ORDER BY seq, at`,
          [runId]
        )
        return Option.some<RunRecord>({
          ...fromRow(row),
          steps: stepRows.map((s) => ({
            seq: s.seq,
            name: s.name,
            kind: s.kind,
            at: Number(s.at),
            value: JournalJson.decode(s.value)
          })),
          droppedSteps: 0
        })
      }).pipe(Effect.orDie),
    list: (options) => {
      const where: Array<string> = []
      const params: Array<unknown> = []
      if (options.agent !== undefined) where.push(`r.agent = $${params.push(options.agent)}`)
      if (options.agentId !== undefined) where.push(`r.agent_id = $${params.push(options.agentId)}`)
      const limit = `$${params.push(options.limit)}`
      return sql.unsafe<RunRow>(
        `SELECT ${columns} FROM ${runs} r ${
          where.length === 0 ? "" : `WHERE ${where.join(" AND ")}`
        } ORDER BY r.started_at DESC, r.seq DESC LIMIT ${limit}`,
        params as ReadonlyArray<string> // the driver takes any primitive parameter
      ).pipe(Effect.map((rows) => rows.map(fromRow)), Effect.orDie)
    },
    unfinished: (workflow, limit) =>
      sql.unsafe<RunRow>(
        `SELECT ${columns} FROM ${runs} r WHERE r.workflow = $1 AND r.outcome IS NULL ORDER BY r.seq LIMIT $2`,
        [workflow, limit]
      ).pipe(Effect.map((rows) => rows.map(fromRow)), Effect.orDie)
  }
}

/** The journal of durable agent runs (see the module doc). */
export class RunJournal extends Context.Service<RunJournal, RunJournalShape>()("troupe/llmagent/RunJournal") {
  /**
   * An in-process journal of at most `maxRuns` runs (default 10,000) and `maxStepsPerRun` steps per run (default
   * 10,000); not durable, for tests and embedded runs.
   */
  static layerMemory(
    options?: { readonly maxRuns?: number; readonly maxStepsPerRun?: number }
  ): Layer.Layer<RunJournal> {
    return Layer.sync(
      RunJournal,
      () =>
        RunJournal.of(
          makeMemory(options?.maxRuns ?? DEFAULT_MAX_RUNS, options?.maxStepsPerRun ?? DEFAULT_MAX_STEPS_PER_RUN)
        )
    )
  }

  /**
   * A durable journal in PostgreSQL (`<schema>.troupe_runs`, `<schema>.troupe_run_steps`) through Effect's
   * `SqlClient`. Building fails with `SqlError` when the tables cannot be created; later server failures are
   * defects of the calling fiber.
   */
  static layerPostgres(
    options?: { readonly schema?: string }
  ): Layer.Layer<RunJournal, SqlError.SqlError, SqlClient.SqlClient> {
    const schema = (options?.schema ?? "public").replace(/"/g, "")
    return Layer.effect(
      RunJournal,
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* createTables(sql, [
          `CREATE SCHEMA IF NOT EXISTS "${schema}"`,
          `CREATE TABLE IF NOT EXISTS "${schema}".troupe_runs (seq bigserial, run_id text PRIMARY KEY, agent text NOT NULL, agent_id text NOT NULL, workflow text NOT NULL, execution_id text NOT NULL, input jsonb, max_steps int, started_at bigint NOT NULL, finished_at bigint, outcome text, result jsonb)`,
          `CREATE TABLE IF NOT EXISTS "${schema}".troupe_run_steps (run_id text NOT NULL, seq int NOT NULL, name text NOT NULL, kind text NOT NULL, at bigint NOT NULL, value jsonb, PRIMARY KEY (run_id, name))`,
          `CREATE INDEX IF NOT EXISTS troupe_runs_unfinished ON "${schema}".troupe_runs (workflow, seq) WHERE outcome IS NULL`
        ])
        return RunJournal.of(makePostgres(sql, schema))
      })
    )
  }
}
