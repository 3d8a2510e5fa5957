/**
 * Shared parts of the SIGKILL tests (test/llmagent/JournalProcesses.test.ts) and of the `journal.recovery` bench row
 * (bench/journal.bench.ts): everything here lives outside the process that is killed.
 *
 * - `startProvider`: a loopback fake provider (HTTP on 127.0.0.1). A worker sends `GET /model?key=&inc=` for every
 *   model call and `GET /tool?key=&inc=` for every tool run (`key` names the step: `<run>/model/<n>`,
 *   `<run>/tool/<n>`; `inc` is the worker's incarnation). Every request is logged with its key and incarnation; a
 *   model request is **billed** when the provider answers it (whether or not the killed worker ever reads the
 *   answer), a tool request **ran** when it arrived.
 * - `journaled`: the steps the workflow engine has journaled, read from its own storage in PostgreSQL (an
 *   `activity` message of a run with a `Complete` reply in `cluster_replies`): what a restarted process replays
 *   instead of executing again.
 * - `journaledCount`: how many steps are journaled (what the kills of the test are planned on).
 * - `spawnWorker`: a worker process, with promises for its `ready` and `done` lines and its exit.
 */
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import type { ChildProcess } from "node:child_process"
import { spawn } from "node:child_process"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"

/** One request to the fake provider. */
export interface ProviderRequest {
  readonly kind: "model" | "tool"
  readonly key: string
  readonly inc: number
  readonly at: number
  /** a model request the provider answered (and so billed); a tool request is run when it arrives */
  billed: boolean
}

export interface FakeProvider {
  readonly url: string
  readonly requests: ReadonlyArray<ProviderRequest>
  readonly close: () => Promise<void>
}

/** Starts the loopback provider: model answers after `modelMs`, tool answers after `toolMs`. */
export const startProvider = async (
  options: { readonly modelMs: number; readonly toolMs: number }
): Promise<FakeProvider> => {
  const requests: Array<ProviderRequest> = []
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1")
    const kind = url.pathname === "/model" ? "model" : url.pathname === "/tool" ? "tool" : undefined
    const key = url.searchParams.get("key")
    if (kind === undefined || key === null) {
      res.writeHead(404).end()
      return
    }
    const request: ProviderRequest = {
      kind,
      key,
      inc: Number(url.searchParams.get("inc")),
      at: Date.now(),
      billed: false
    }
    requests.push(request)
    setTimeout(() => {
      if (kind === "model") request.billed = true
      res.writeHead(200, { "content-type": "text/plain" }).end(`${kind === "model" ? "answer" : "ran"} ${key}`)
    }, kind === "model" ? options.modelMs : options.toolMs)
  })
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve) => {
    server.listen(0, "127.0.0.1", () => resolve())
  })
  // listen(0, host) gives an AddressInfo (a string only for pipes)
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}

/** A journaled step: its run's payload (as stored), the activity name, and whether its exit is a failure. */
export interface JournaledStep {
  readonly run: Record<string, unknown>
  readonly activity: string
  readonly failure: boolean
}

/** The steps journaled in the engine's storage, one row per `Complete` reply of an activity. */
export const journaled: Effect.Effect<ReadonlyArray<JournaledStep>, never, SqlClient.SqlClient> = Effect.gen(
  function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql.unsafe<{ run: string; activity: string; exit: string | null }>(
      `SELECT r.payload AS run, a.payload::json->>'name' AS activity, p.payload::json->'value'->'exit'->>'_tag' AS exit
       FROM cluster_messages a
       JOIN cluster_replies p ON p.request_id = a.id
       JOIN cluster_messages r ON r.entity_type = a.entity_type AND r.entity_id = a.entity_id AND r.tag = 'run'
       WHERE a.tag = 'activity' AND p.payload::json->'value'->>'_tag' = 'Complete'`
    ).pipe(Effect.orDie)
    return rows.map((row) => ({
      // the run message's payload is the workflow payload, a JSON object
      run: JSON.parse(row.run) as Record<string, unknown>,
      activity: row.activity,
      failure: row.exit === "Failure"
    }))
  }
)

/** The number of journaled steps (`Complete` activity replies); 0 before a worker has created the engine's tables. */
export const journaledCount: Effect.Effect<number, never, SqlClient.SqlClient> = Effect.flatMap(
  SqlClient.SqlClient,
  (sql) =>
    sql.unsafe<{ n: string }>(
      `SELECT count(*)::text AS n FROM cluster_replies p JOIN cluster_messages a ON a.id = p.request_id
       WHERE a.tag = 'activity' AND p.payload::json->'value'->>'_tag' = 'Complete'`
    ).pipe(Effect.map((rows) => Number(rows[0]?.n ?? 0)), Effect.catch(() => Effect.succeed(0)))
)

/** Waits until no connection of `applicationName` is left on the server (the killed worker's backends are gone). */
export const backendsGone = (applicationName: string): Effect.Effect<void, never, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    for (let i = 0; i < 200; i++) {
      const rows = yield* sql.unsafe<{ n: string }>(
        `SELECT count(*)::text AS n FROM pg_stat_activity WHERE application_name = $1`,
        [applicationName]
      ).pipe(Effect.orDie)
      if (Number(rows[0]?.n) === 0) return
      yield* Effect.sleep("10 millis")
    }
  })

/** A worker process: `ready` when it has built its layers, `done` true when it reported all runs complete. */
export interface Worker {
  readonly child: ChildProcess
  readonly spawnedAt: number
  readonly ready: Promise<void>
  /** true when the worker printed `done`; false when it was killed first; rejects when it exited otherwise */
  readonly done: Promise<boolean>
  readonly kill: () => void
}

export const spawnWorker = (args: ReadonlyArray<string>): Worker => {
  const spawnedAt = Date.now()
  const child: ChildProcess = spawn(process.execPath, [...args], { stdio: ["ignore", "pipe", "pipe"] })
  let out = ""
  let err = ""
  let onReady = (): void => undefined
  const ready = new Promise<void>((resolve) => {
    onReady = resolve
  })
  const done = new Promise<boolean>((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString()
      if (out.includes(`"ready"`)) onReady()
    })
    child.stderr?.on("data", (chunk: Buffer) => void (err += chunk.toString()))
    child.on("exit", (code, signal) => {
      onReady()
      if (out.includes(`"done"`)) resolve(true)
      else if (signal === "SIGKILL") resolve(false)
      else reject(new Error(`worker exited with ${code}: ${err.slice(0, 2000)}`))
    })
  })
  return { child, spawnedAt, ready, done, kill: () => void child.kill("SIGKILL") }
}

/** `count` distinct kill thresholds in [lo, hi], sorted, at least `gap` apart. */
export const thresholds = (count: number, lo: number, hi: number, gap: number): Array<number> => {
  for (;;) {
    const picked = Array.from({ length: count }, () => lo + Math.floor(Math.random() * (hi - lo + 1))).sort((a, b) =>
      a - b
    )
    if (picked.every((t, i) => i === 0 || t - (picked[i - 1] ?? 0) >= gap)) return picked
  }
}

/** The median of `xs` (the lower middle for an even count). */
export const median = (xs: ReadonlyArray<number>): number => {
  const sorted = [...xs].sort((a, b) => a - b)
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN
}
