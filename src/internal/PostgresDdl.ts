/**
 * Creating a PostgreSQL store's schema and tables, safely when several starts race.
 *
 * Rules:
 * - PostgreSQL's `CREATE SCHEMA IF NOT EXISTS` and `CREATE TABLE IF NOT EXISTS` are not safe against each other: two
 *   sessions creating the same schema or table at once can both pass the existence check, and one then fails with a
 *   unique violation on the catalog (`pg_namespace_nspname_index`, `pg_type_typname_nsp_index`). That happens when
 *   the stores of one application are built in parallel on a new schema, and when gateway replicas start together.
 * - Every troupe store therefore runs its start-up statements through `createTables`: one transaction that first
 *   takes a transaction-level advisory lock shared by all troupe DDL, so racing starts take turns and each later one
 *   finds everything there. The lock is released at commit or rollback; only start-up takes it.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { SqlClient, SqlError } from "effect/sql"

/** A schema name every troupe PostgreSQL store accepts: a lower-case identifier of at most 63 characters. */
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/

/** The advisory lock key of troupe's DDL: an arbitrary constant ("troupe" in ASCII). */
const DDL_LOCK = 0x74726f757065

/**
 * Runs `statements` (idempotent DDL: `CREATE … IF NOT EXISTS`, `ALTER … ADD COLUMN IF NOT EXISTS`) in one
 * transaction under troupe's DDL lock. Fails with the `SqlError` of the first statement that fails (the transaction
 * is then rolled back).
 */
export const createTables = (
  sql: SqlClient.SqlClient,
  statements: ReadonlyArray<string>
): Effect.Effect<void, SqlError.SqlError> =>
  sql.withTransaction(Effect.gen(function*() {
    yield* sql.unsafe(`SELECT pg_advisory_xact_lock(${DDL_LOCK})`)
    for (const statement of statements) yield* sql.unsafe(statement)
  }))
