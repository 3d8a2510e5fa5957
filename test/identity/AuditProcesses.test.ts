/**
 * The audit log across OS processes on PostgreSQL (issue 13 §3): three processes recording at once extend one linear
 * chain (several writers share one chain), and a process SIGKILLed mid-run loses nothing it acknowledged (written in
 * batches, never lost when acknowledged): every `ack` it printed is in the store and the chain verifies.
 */
import { assert, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import type { ChildProcess } from "node:child_process"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { afterAll } from "vitest"
import { Audit, AuditStore } from "../../src/identity/index.ts"
import { describePostgres, dropSchemaPromise, pgLayer, uniqueSchema } from "../support/postgres.ts"

const worker = fileURLToPath(new URL("./support/auditWorker.ts", import.meta.url))

interface Run {
  readonly child: ChildProcess
  /** `seq → i` of every acknowledged entry */
  readonly acks: Map<number, number>
  readonly exited: Promise<number | null>
  /** resolves once `n` entries are acknowledged */
  readonly acked: (n: number) => Promise<void>
}

const start = (schema: string, writer: string, entries: number, fibers: number): Run => {
  const child = spawn(process.execPath, [worker, schema, writer, String(entries), String(fibers)], {
    stdio: ["ignore", "pipe", "pipe"]
  })
  const acks = new Map<number, number>()
  const waiters: Array<{ readonly n: number; readonly resolve: () => void }> = []
  let buffered = ""
  let err = ""
  child.stdout?.on("data", (chunk: Buffer) => {
    buffered += chunk.toString()
    let nl = buffered.indexOf("\n")
    while (nl >= 0) {
      const [word, seq, i] = buffered.slice(0, nl).split(" ")
      if (word === "ack") acks.set(Number(seq), Number(i))
      buffered = buffered.slice(nl + 1)
      nl = buffered.indexOf("\n")
    }
    for (const w of waiters) if (acks.size >= w.n) w.resolve()
  })
  child.stderr?.on("data", (chunk: Buffer) => void (err += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => {
    child.on("exit", (code) => {
      if (code !== 0 && code !== null) process.stderr.write(`audit worker ${writer}: ${err.slice(0, 2000)}\n`)
      resolve(code)
    })
  })
  const acked = (n: number) =>
    new Promise<void>((resolve, reject) => {
      if (acks.size >= n) {
        resolve()
        return
      }
      waiters.push({ n, resolve })
      void exited.then(() => {
        if (acks.size >= n) resolve()
        else reject(new Error(`worker exited after ${acks.size} acks: ${err}`))
      })
    })
  return { child, acks, exited, acked }
}

describePostgres("Audit across processes (PostgreSQL)", () => {
  const schemas: Array<string> = []
  afterAll(() => Promise.all(schemas.map(dropSchemaPromise)))
  const fresh = () => {
    const schema = uniqueSchema("auditproc")
    schemas.push(schema)
    return schema
  }
  const readBack = (schema: string) =>
    Effect.gen(function*() {
      const audit = yield* Audit
      const store = yield* AuditStore
      return { check: yield* audit.verify(), rows: yield* store.range(0, 100_000) }
    }).pipe(
      Effect.provide(Audit.layer.pipe(Layer.provideMerge(AuditStore.layerPostgres({ schema })), Layer.provide(pgLayer)))
    )

  it.live(
    "several writers share one chain: 3 processes recording at once extend one linear chain",
    () =>
      Effect.gen(function*() {
        const schema = fresh()
        // create the tables first, so the workers do not race on CREATE TABLE
        yield* readBack(schema)
        const runs = ["w1", "w2", "w3"].map((w) => start(schema, w, 60, 4))
        const codes = yield* Effect.promise(() => Promise.all(runs.map((r) => r.exited)))
        assert.deepStrictEqual(codes, [0, 0, 0])
        const { check, rows } = yield* readBack(schema)
        assert.deepInclude(check, { _tag: "Intact", checked: 180 })
        for (const [w, run] of [["w1", runs[0]!], ["w2", runs[1]!], ["w3", runs[2]!]] as const) {
          assert.strictEqual(rows.filter((r) => r.actor === w).length, 60)
          for (const [seq] of run.acks) assert.strictEqual(rows[seq]?.actor, w)
        }
      }),
    { timeout: 60_000 }
  )

  it.live(
    "written in batches, never lost when acknowledged: a process killed mid-run loses no acknowledged entry",
    () =>
      Effect.gen(function*() {
        const schema = fresh()
        yield* readBack(schema)
        const run = start(schema, "victim", 100_000, 16)
        yield* Effect.promise(() => run.acked(200))
        run.child.kill("SIGKILL")
        yield* Effect.promise(() => run.exited)
        const { check, rows } = yield* readBack(schema)
        assert.strictEqual(check._tag, "Intact")
        assert.isAtLeast(rows.length, run.acks.size)
        for (const [seq, i] of run.acks) assert.strictEqual(rows[seq]?.resource, `n/${i}`)
      }),
    { timeout: 60_000 }
  )
})
