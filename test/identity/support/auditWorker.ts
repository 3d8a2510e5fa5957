/**
 * One OS process of the cross-process audit tests: `node auditWorker.ts <schema> <writer> <entries> <fibers>`.
 * Records `entries` audit entries (actor `<writer>`, resource `n/<i>`) from `fibers` concurrent fibers on the
 * PostgreSQL audit store in `schema`, printing `ack <seq> <i>` after each acknowledged `record` (durable by then),
 * and `done` at the end. The crash test SIGKILLs it midway.
 */
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Redacted } from "effect"
import { Audit, AuditStore } from "../../../src/identity/index.ts"

const [schema, writer, entriesArg, fibersArg] = process.argv.slice(2)
const entries = Number(entriesArg)
const fibers = Number(fibersArg)

const layer = Audit.layer.pipe(
  Layer.provide(AuditStore.layerPostgres({ schema: schema ?? "" })),
  Layer.provide(PgClient.layer({
    url: Redacted.make(process.env["DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:5432/test"),
    maxConnections: 4
  }))
)

const program = Effect.gen(function*() {
  const audit = yield* Audit
  yield* Effect.forEach(Array.from({ length: entries }, (_, i) => i), (i) =>
    Effect.flatMap(
      audit.record({
        tenant: "load",
        actor: writer ?? "w",
        action: "load.write",
        resource: `n/${i}`,
        status: "success"
      }),
      (entry) => Effect.sync(() => process.stdout.write(`ack ${entry.seq} ${i}\n`))
    ), { concurrency: fibers, discard: true })
  process.stdout.write("done\n")
})

Effect.runPromise(program.pipe(Effect.provide(layer))).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${String(error)}\n`)
    process.exit(1)
  }
)
