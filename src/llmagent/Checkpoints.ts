/**
 * `Checkpoints`: snapshots of an agent's state, saved after each turn and restored when the agent starts.
 *
 * Rules (each has a test in test/llmagent/CheckpointsConformance.test.ts):
 * - **`save` appends a checkpoint** with the next sequence number of the agent (from 1) and the current time.
 * - **Retention keeps the last `keep` checkpoints per agent** (default 10) **and drops those older than `maxAge`**
 *   (default: no age limit), both applied on every save; `latest` and `list` never return an expired checkpoint.
 * - **`latest` is the checkpoint with the highest sequence number**; `list` returns them newest first.
 * - **Every backend keeps a JSON copy of the state**: what `latest` returns is `JSON.parse(JSON.stringify(state))`
 *   (`-0` reads back as `0`, `undefined` as `null`), and a later change to the saved object does not reach it.
 * - **The memory backend is bounded**: at most `maxAgents` agents (default 10,000; the agent saved least recently
 *   is dropped first), each with at most `keep` checkpoints.
 *
 * `LlmAgents` saves, after each turn that answered, `{ turns, messages, runId }` (turns answered so far by this
 * agent, across incarnations; the conversation when it keeps one; the durable run id) under the agent id, and
 * restores the latest when an agent starts: an agent whose `ConversationMemory` is empty (a memory that did not
 * survive the restart) gets its conversation back from the checkpoint.
 *
 * Reuses Effect's `SqlClient` (`layerPostgres`, table `<schema>.troupe_checkpoints`) and `Clock`; the memory backend
 * is an insertion-ordered `Map`. Hand-rolled because `effect/persistence`'s `KeyValueStore` has no ordered keys or
 * retention.
 */
import { Clock, Context, Duration, Effect, Layer, Option } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import { createTables } from "../internal/PostgresDdl.ts"

/** One saved state. */
export interface Checkpoint {
  readonly agentId: string
  /** 1, 2, … per agent */
  readonly seq: number
  /** epoch milliseconds */
  readonly at: number
  readonly state: unknown
}

/** The service (see the module doc for the rules). PostgreSQL errors are defects of the calling fiber. */
export interface CheckpointsShape {
  /** Saves a checkpoint of `agentId`, then applies the retention. */
  readonly save: (agentId: string, state: unknown) => Effect.Effect<Checkpoint>
  /** The newest checkpoint of `agentId` that has not expired. */
  readonly latest: (agentId: string) => Effect.Effect<Option.Option<Checkpoint>>
  /** The checkpoints of `agentId` that have not expired, newest first. */
  readonly list: (agentId: string) => Effect.Effect<ReadonlyArray<Checkpoint>>
}

/** Retention: how many checkpoints per agent, and how old at most. */
export interface RetentionOptions {
  /** checkpoints kept per agent; default 10 */
  readonly keep?: number
  /** checkpoints older than this are dropped; default: no age limit */
  readonly maxAge?: Duration.Input
}

/** Default number of checkpoints kept per agent. */
export const DEFAULT_KEEP = 10
/** Default bound on agents kept by `Checkpoints.layerMemory`. */
export const DEFAULT_MAX_AGENTS = 10_000

const retention = (options: RetentionOptions | undefined) => {
  const keep = options?.keep ?? DEFAULT_KEEP
  if (!Number.isInteger(keep) || keep < 1) throw new TypeError("Checkpoints: keep must be a positive integer")
  const maxAgeMillis = options?.maxAge === undefined
    ? undefined
    : Duration.toMillis(Duration.fromInputUnsafe(options.maxAge))
  if (maxAgeMillis !== undefined && !(maxAgeMillis > 0)) {
    throw new TypeError("Checkpoints: maxAge must be a positive duration")
  }
  return { keep, maxAgeMillis }
}

const makeMemory = (options: RetentionOptions & { readonly maxAgents?: number } | undefined): CheckpointsShape => {
  const { keep, maxAgeMillis } = retention(options)
  const maxAgents = options?.maxAgents ?? DEFAULT_MAX_AGENTS
  const agents = new Map<string, { next: number; list: Array<Checkpoint> }>()
  const live = (list: ReadonlyArray<Checkpoint>, now: number) =>
    maxAgeMillis === undefined ? list : list.filter((c) => now - c.at <= maxAgeMillis)
  return {
    save: (agentId, state) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        let entry = agents.get(agentId)
        if (entry === undefined) {
          if (agents.size >= maxAgents) {
            const oldest = agents.keys().next()
            if (oldest.done !== true) agents.delete(oldest.value)
          }
          entry = { next: 1, list: [] }
        }
        agents.delete(agentId) // most recently saved last
        agents.set(agentId, entry)
        const copy: unknown = JSON.parse(JSON.stringify(state ?? null))
        const checkpoint: Checkpoint = { agentId, seq: entry.next++, at: now, state: copy }
        entry.list = [...live(entry.list, now), checkpoint].slice(-keep)
        return checkpoint
      }),
    latest: (agentId) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const list = live(agents.get(agentId)?.list ?? [], now)
        return Option.fromNullishOr(list.at(-1))
      }),
    list: (agentId) =>
      Effect.map(Clock.currentTimeMillis, (now) => [...live(agents.get(agentId)?.list ?? [], now)].reverse())
  }
}

interface Row {
  readonly agent_id: string
  readonly seq: number
  readonly at: string
  readonly state: unknown
}

const fromRow = (row: Row): Checkpoint => ({
  agentId: row.agent_id,
  seq: row.seq,
  at: Number(row.at),
  state: row.state
})

const makePostgres = (
  sql: SqlClient.SqlClient,
  schema: string,
  options: RetentionOptions | undefined
): CheckpointsShape => {
  const { keep, maxAgeMillis } = retention(options)
  const table = `"${schema}".troupe_checkpoints`
  const cutoff = (now: number) => maxAgeMillis === undefined ? -1 : now - maxAgeMillis
  return {
    save: (agentId, state) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const rows = yield* sql.unsafe<Row>(
          `INSERT INTO ${table} (agent_id, seq, at, state) VALUES ($1, (SELECT COALESCE(max(seq), 0) + 1 FROM ${table} WHERE agent_id = $1), $2, $3::jsonb) RETURNING agent_id, seq, at::text AS at, state`,
          [agentId, now, JSON.stringify(state ?? null)]
        )
        yield* sql.unsafe(
          `DELETE FROM ${table} WHERE agent_id = $1 AND (at < $2 OR seq <= (SELECT max(seq) FROM ${table} WHERE agent_id = $1) - $3)`,
          [agentId, cutoff(now), keep]
        )
        // the INSERT … RETURNING above answers exactly one row of the table's columns
        return fromRow(rows[0] as Row)
      }).pipe(Effect.orDie),
    latest: (agentId) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        sql.unsafe<Row>(
          `SELECT agent_id, seq, at::text AS at, state FROM ${table} WHERE agent_id = $1 AND at >= $2 ORDER BY seq DESC LIMIT 1`,
          [agentId, cutoff(now)]
        )).pipe(Effect.map((rows) => Option.map(Option.fromNullishOr(rows[0]), fromRow)), Effect.orDie),
    list: (agentId) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        sql.unsafe<Row>(
          `SELECT agent_id, seq, at::text AS at, state FROM ${table} WHERE agent_id = $1 AND at >= $2 ORDER BY seq DESC`,
          [agentId, cutoff(now)]
        )).pipe(Effect.map((rows) => rows.map(fromRow)), Effect.orDie)
  }
}

/** Snapshots of agent state with retention (see the module doc). */
export class Checkpoints extends Context.Service<Checkpoints, CheckpointsShape>()("troupe/llmagent/Checkpoints") {
  /**
   * In-process checkpoints: the retention (`keep`, default 10; `maxAge`) and at most `maxAgents` agents (default
   * 10,000). Not durable. Throws a `TypeError` when `keep` or `maxAge` is not positive.
   */
  static layerMemory(options?: RetentionOptions & { readonly maxAgents?: number }): Layer.Layer<Checkpoints> {
    return Layer.sync(Checkpoints, () => Checkpoints.of(makeMemory(options)))
  }

  /**
   * Durable checkpoints in PostgreSQL (`<schema>.troupe_checkpoints`) with the same retention. Building fails with
   * `SqlError` when the table cannot be created; later server failures are defects of the calling fiber.
   */
  static layerPostgres(
    options?: RetentionOptions & { readonly schema?: string }
  ): Layer.Layer<Checkpoints, SqlError.SqlError, SqlClient.SqlClient> {
    const schema = (options?.schema ?? "public").replace(/"/g, "")
    return Layer.effect(
      Checkpoints,
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* createTables(sql, [
          `CREATE SCHEMA IF NOT EXISTS "${schema}"`,
          `CREATE TABLE IF NOT EXISTS "${schema}".troupe_checkpoints (agent_id text NOT NULL, seq int NOT NULL, at bigint NOT NULL, state jsonb, PRIMARY KEY (agent_id, seq))`
        ])
        return Checkpoints.of(makePostgres(sql, schema, options))
      })
    )
  }
}
