/**
 * Shared gate for tests that talk to a real PostgreSQL server.
 *
 * Tests of a PostgreSQL backend use the server at `DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`).
 * When no server answers, those tests are skipped with a clear message, except under `CI=true`, where a missing
 * server is a failure. Each run creates its own schema (`uniqueSchema`) and drops it afterwards (`dropSchema`).
 */
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Redacted } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import { randomUUID } from "node:crypto"
import { createConnection } from "node:net"
import { describe, it as vitestIt } from "vitest"

export const databaseUrl: string = process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/test"

const parsed = new URL(databaseUrl)

/** Whether a TCP connection to the server opens within 1 s. */
export const pingPostgres = (): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = createConnection({ host: parsed.hostname || "127.0.0.1", port: Number(parsed.port || 5432) })
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(1000, () => done(false))
    socket.once("error", () => done(false))
    socket.once("connect", () => done(true))
  })

export const postgresUp: boolean = await pingPostgres()

/** A schema name unique to this test run. */
export const uniqueSchema = (label: string): string =>
  `troupe_test_${label}_${process.pid}_${randomUUID().slice(0, 8)}`.toLowerCase().replace(/[^a-z0-9_]/g, "_")

/** The `PgClient`/`SqlClient` layer for `DATABASE_URL`. */
export const pgLayer: Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, SqlError.SqlError> = PgClient.layer({
  url: Redacted.make(databaseUrl),
  maxConnections: 4
})

export const dropSchema = (schema: string): Effect.Effect<void, SqlError.SqlError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  })

/** Drops `schema` through a short-lived client (for `afterAll`). */
export const dropSchemaPromise = (schema: string): Promise<void> =>
  Effect.runPromise(dropSchema(schema).pipe(Effect.provide(pgLayer)))

/** `describe` for PostgreSQL-backed tests: runs, skips with a message, or fails under `CI=true`. */
export const describePostgres = (name: string, body: () => void): void => {
  if (postgresUp) {
    describe(name, body)
  } else if (process.env["CI"] === "true") {
    describe(name, () => {
      vitestIt(`needs PostgreSQL at ${databaseUrl}`, () => {
        throw new Error(`PostgreSQL is not answering at ${databaseUrl}; under CI=true PostgreSQL-backed tests must run`)
      })
    })
  } else {
    describe.skip(
      `${name} (skipped: no PostgreSQL answering at ${databaseUrl}; set DATABASE_URL or start postgres)`,
      body
    )
  }
}
