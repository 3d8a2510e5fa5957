/**
 * `troupe serve --database-url` on the real binary and a real PostgreSQL (issue 17, the deploy's database): the cost
 * ledger, budgets and dead letters are kept in the given schema, so they outlive a restart of the gateway, and
 * readiness probes the server. Skipped without PostgreSQL (a failure under `CI=true`); the schema is dropped after.
 */
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import { spawn } from "node:child_process"
import { afterAll, expect, it } from "vitest"
import { databaseUrl, describePostgres, dropSchemaPromise, pgLayer, uniqueSchema } from "../support/postgres.ts"
import { bin, cleanEnv, startServe } from "./support/binary.ts"

const schema = uniqueSchema("serve")
const ADMIN = "serve-pg-admin"
const env = cleanEnv("serve-pg")
const adminHeaders = { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" }

/** Starts serve on the run's schema; stops it (SIGTERM, drained) after `body`. */
const withServe = async (body: (url: string) => Promise<void>): Promise<void> => {
  const { child, url } = await startServe(env, ["--database-url", databaseUrl, "--database-schema", schema], {
    TROUPE_GATEWAY__AUTH__ADMIN_KEY: ADMIN
  })
  try {
    await body(url)
  } finally {
    const exited = new Promise<void>((resolve) => {
      child.once("exit", () => resolve())
    })
    child.kill("SIGTERM")
    await exited
  }
}

const tablesOf = (name: string) =>
  Effect.runPromise(
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const rows = yield* sql<{ table_name: string }>`
        SELECT table_name FROM information_schema.tables WHERE table_schema = ${name} ORDER BY table_name`
      return rows.map((r) => r.table_name)
    }).pipe(Effect.provide(pgLayer))
  )

afterAll(() => dropSchemaPromise(schema))

describePostgres("troupe serve --database-url (real binary, real PostgreSQL)", () => {
  it(
    "serve --database-url keeps costs, budgets and dead letters in PostgreSQL: a budget and the ledger outlive a restart",
    async () => {
      let count = 0
      await withServe(async (url) => {
        const ready = await fetch(`${url}/health/ready`)
        expect(ready.status).toBe(200)
        expect(JSON.stringify(await ready.json())).toContain("postgres")
        const set = await fetch(`${url}/costs/budget`, {
          method: "POST",
          headers: adminHeaders,
          body: JSON.stringify({ scope: "tenant:acme", limit: 5, period: "day" })
        })
        expect(set.status).toBe(200)
        const chat = await fetch(`${url}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ model: "fast", messages: [{ role: "user", content: "hello" }] })
        })
        expect(chat.status).toBe(200)
        const stats = await fetch(`${url}/costs/stats?period=day`, { headers: adminHeaders })
        count = ((await stats.json()) as { count: number }).count
        expect(count).toBeGreaterThanOrEqual(1)
      })
      const tables = await tablesOf(schema)
      expect(tables.filter((t) => /budget/.test(t)).length).toBeGreaterThan(0)
      expect(tables.filter((t) => /cost/.test(t)).length).toBeGreaterThan(0)
      expect(tables.filter((t) => /dlq|dead/.test(t)).length).toBeGreaterThan(0)
      // a new process on the same schema: the budget and the ledger are still there
      await withServe(async (url) => {
        const budget = await fetch(`${url}/costs/budget/${encodeURIComponent("tenant:acme")}`, {
          headers: adminHeaders
        })
        expect(budget.status).toBe(200)
        expect(await budget.json()).toMatchObject({ scope: "tenant:acme", limit: 5, period: "day" })
        const stats = await fetch(`${url}/costs/stats?period=day`, { headers: adminHeaders })
        expect(((await stats.json()) as { count: number }).count).toBe(count)
      })
    },
    60_000
  )

  it(
    "serve --database-url with a server that does not answer exits 1 at start with the database error, the password masked",
    async () => {
      const child = spawn(process.execPath, [
        bin,
        "serve",
        "--port",
        "0",
        "--database-url",
        "postgres://postgres:s3cret-pw@127.0.0.1:1/test",
        "--database-schema",
        schema
      ], { stdio: ["ignore", "pipe", "pipe"], env: env as NodeJS.ProcessEnv }) // undefined values remove the variable
      let output = ""
      child.stdout.on("data", (d: Buffer) => {
        output += d.toString()
      })
      child.stderr.on("data", (d: Buffer) => {
        output += d.toString()
      })
      const code = await new Promise<number | null>((resolve) => {
        child.once("close", (c) => resolve(c))
      })
      expect(code).toBe(1)
      expect(output).toMatch(/Sql|ECONNREFUSED|connect/i)
      expect(output).not.toContain("listening on")
      expect(output).not.toContain("s3cret-pw")
    },
    60_000
  )
})
