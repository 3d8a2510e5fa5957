/**
 * `Journal`: durable steps of an agent run, on `effect/workflow`.
 *
 * Rules (each has a test in test/llmagent/Journal.test.ts):
 * - **Every model response and every tool result is journaled before the next step**: `Journal.model` and
 *   `Journal.tool` are workflow activities named `model/<step>` and `tool/<step>`; run inside a `Workflow` body, the
 *   engine stores each result before the body goes on. A run that is executed again (a restart after a crash, or
 *   the same idempotency key) replays journaled steps from their stored results: **answered model calls are not
 *   repeated and not paid twice**.
 * - **A tool call runs at most once per idempotency key**: tools declare `idempotent`. An idempotent tool whose
 *   activity was in flight at a crash simply runs again (the engine's delivery is at-least-once). A non-idempotent
 *   tool first claims its key in the `ToolLedger`; when the key was already claimed but no result was journaled (the
 *   process died between the claim and the journal write), the step is **reported as `ToolOutcomeUnknown`, not
 *   re-run blindly** — that failure is itself journaled, so replays report it the same way.
 * - **`replay(runId)` reads a run's journal without re-executing anything**: the steps in order (model responses
 *   and tool results, with their names and times) and the outcome, from the `RunJournal` (durable `LlmAgents`
 *   turns write it; see RunJournal.ts for why it is a table of its own). An unknown id fails `RunNotFound`.
 * - **The ledger is bounded**: `ToolLedger.layerMemory` keeps at most `capacity` keys (default 100,000) and fails
 *   `LedgerFull` rather than forgetting a claim (forgetting one could run a tool twice).
 *
 * Reuses `effect/workflow` (`Workflow`, `Activity`; `ClusterWorkflowEngine` on PostgreSQL for durability,
 * `WorkflowEngine.layerMemory` in tests) for the journal itself. Hand-rolled: only the `ToolLedger`, because
 * `Activity` has no at-most-once mode — its `CurrentAttempt` counts retries, not crashes, so an activity cannot tell
 * that it already ran before a SIGKILL (EFFECT4-server-cluster.md §3a, pitfall 5).
 */
import { Context, Effect, Layer, Option, Schema } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import { Activity } from "effect/workflow"
import { createTables } from "../internal/PostgresDdl.ts"
import { RunJournal, type RunRecord } from "./RunJournal.ts"

/** A non-idempotent tool's key was claimed before, but its result was never journaled: it may or may not have run. */
export class ToolOutcomeUnknown extends Schema.TaggedError<ToolOutcomeUnknown>()("ToolOutcomeUnknown", {
  step: Schema.String,
  tool: Schema.String,
  key: Schema.String
}) {
  override get message(): string {
    return `tool ${this.tool} (step ${this.step}, key ${this.key}) is not idempotent and may have run before a crash: not re-run`
  }
}

/** No run with this id is in the `RunJournal` (never started here, or dropped by the memory journal's bound). */
export class RunNotFound extends Schema.TaggedError<RunNotFound>()("RunNotFound", { runId: Schema.String }) {
  override get message(): string {
    return `no run ${this.runId} in the journal`
  }
}

/**
 * A run's journal, for debugging: its steps in order and its outcome, read from the `RunJournal`; nothing is
 * executed again. Fails `RunNotFound` when the journal has no run `runId`.
 *
 * @example
 * ```ts
 * const answer = yield* agents.ask("support:42", "Refund order 7")
 * const run = yield* Journal.replay(answer.runId!)
 * for (const step of run.steps) console.log(step.seq, step.name, step.value)
 * ```
 */
export const replay = (runId: string): Effect.Effect<RunRecord, RunNotFound, RunJournal> =>
  Effect.flatMap(
    RunJournal.use((journal) => journal.get(runId)),
    (found) => Option.isSome(found) ? Effect.succeed(found.value) : Effect.fail(new RunNotFound({ runId }))
  )

/** The ledger holds `capacity` keys already; the claim is refused rather than forgetting an older one. */
export class LedgerFull extends Schema.TaggedError<LedgerFull>()("LedgerFull", { capacity: Schema.Number }) {
  override get message(): string {
    return `tool ledger is full (${this.capacity} keys)`
  }
}

/** The invocations of non-idempotent tools: `claim(key)` is true the first time a key is claimed, false after. */
export class ToolLedger extends Context.Service<ToolLedger, {
  /** Claims a key; true when this is the first claim. Fails `LedgerFull` at capacity. */
  readonly claim: (key: string) => Effect.Effect<boolean, LedgerFull>
  /** Keys claimed so far. */
  readonly size: Effect.Effect<number>
}>()("troupe/llmagent/ToolLedger") {
  /** An in-process ledger of at most `capacity` keys (default 100,000); not durable, for tests and embedded runs. */
  static layerMemory(options?: { readonly capacity?: number }): Layer.Layer<ToolLedger> {
    const capacity = options?.capacity ?? DEFAULT_LEDGER_CAPACITY
    return Layer.sync(ToolLedger, () => {
      const keys = new Set<string>()
      return ToolLedger.of({
        claim: (key) =>
          Effect.suspend(() => {
            if (keys.has(key)) return Effect.succeed(false)
            if (keys.size >= capacity) return Effect.fail(new LedgerFull({ capacity }))
            keys.add(key)
            return Effect.succeed(true)
          }),
        size: Effect.sync(() => keys.size)
      })
    })
  }

  /**
   * A durable ledger in PostgreSQL (`<schema>.troupe_tool_ledger`, one row per claimed key; a claim is one
   * `INSERT … ON CONFLICT DO NOTHING`), through Effect's `SqlClient`. Building fails with `SqlError` when the table
   * cannot be created; a claim dies when the server fails (the step is then retried by the engine).
   */
  static layerPostgres(
    options?: { readonly schema?: string }
  ): Layer.Layer<ToolLedger, SqlError.SqlError, SqlClient.SqlClient> {
    const schema = (options?.schema ?? "public").replace(/"/g, "")
    const table = `"${schema}".troupe_tool_ledger`
    return Layer.effect(
      ToolLedger,
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* createTables(sql, [
          `CREATE SCHEMA IF NOT EXISTS "${schema}"`,
          `CREATE TABLE IF NOT EXISTS ${table} (key text PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())`
        ])
        return ToolLedger.of({
          claim: (key) =>
            sql.unsafe<{ key: string }>(`INSERT INTO ${table} (key) VALUES ($1) ON CONFLICT DO NOTHING RETURNING key`, [
              key
            ]).pipe(
              Effect.map((rows) => rows.length === 1),
              Effect.orDie
            ),
          size: sql.unsafe<{ n: string }>(`SELECT count(*)::text AS n FROM ${table}`).pipe(
            Effect.map((rows) => Number(rows[0]?.n ?? 0)),
            Effect.orDie
          )
        })
      })
    )
  }
}

/** Default bound of `ToolLedger.layerMemory`. */
export const DEFAULT_LEDGER_CAPACITY = 100_000

/**
 * A journaled model call: `call` runs only when step `step` has no journaled response; its response (decoded and
 * encoded with `success`) is replayed otherwise. Its errors are journaled too (with `error`, when given).
 */
export const model = <S extends Schema.Constraint, R, E extends Schema.Constraint = Schema.Never>(options: {
  readonly step: string
  readonly success: S
  readonly error?: E
  readonly call: Effect.Effect<S["Type"], E["Type"], R>
}) =>
  Activity.make({
    name: `model/${options.step}`,
    success: options.success,
    ...(options.error === undefined ? {} : { error: options.error }),
    execute: options.call
  })

/**
 * A journaled tool call. Idempotent tools run whenever their result is not journaled. Non-idempotent tools claim
 * `key` in the `ToolLedger` first and fail with `ToolOutcomeUnknown` when it was claimed before (see the module doc);
 * `LedgerFull` when the ledger refuses the claim.
 */
export const tool = <S extends Schema.Constraint, R>(options: {
  readonly step: string
  readonly tool: string
  readonly key: string
  readonly idempotent: boolean
  readonly success: S
  readonly run: Effect.Effect<S["Type"], never, R>
}) =>
  Activity.make({
    name: `tool/${options.step}`,
    success: options.success,
    error: Schema.Union([ToolOutcomeUnknown, LedgerFull]),
    execute: options.idempotent ? options.run : Effect.flatMap(
      Effect.flatMap(ToolLedger, (ledger) => ledger.claim(options.key)),
      (first) =>
        first
          ? options.run
          : Effect.fail(new ToolOutcomeUnknown({ step: options.step, tool: options.tool, key: options.key }))
    )
  })
