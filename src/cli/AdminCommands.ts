/**
 * The admin commands of `troupe`, talking to a running gateway's admin API: `tree [--watch]`, `health`, `metrics`,
 * `config get|set|validate`, `maintenance on|off`.
 *
 * Rules:
 * - The gateway is `--url`, else `TROUPE_URL`, else `url` in `~/.trouperc` (JSON), else `http://127.0.0.1:7400`; the
 *   admin key is `--admin-key`, else `TROUPE_ADMIN_KEY`, else `adminKey` in `~/.trouperc` (never printed).
 * - `--json` prints the server's JSON as is (one document; `tree --watch --json` one snapshot per line).
 * - Every request has a timeout (`--timeout` ms, default 10,000; `tree --watch`: until the event stream answers).
 * - `tree --watch --interval` is the refresh in ms, an integer from 100 to 60,000 (default 1,000), checked before
 *   any request (exit 2); the event stream refused (a 4xx) is exit 1 with the server's reason, a 5xx exit 5.
 * - Every answer, and every snapshot of `tree --watch`, is decoded with the fields the command prints; one that is
 *   not the documented document is exit 5 (`unexpected answer at <path>`, see `internal/AdminClient.ts`).
 * - `tree` prints the tree as the demos print theirs (`npm run tree`, `npm start`), with the runtime's one
 *   renderer, `SupervisionTree.render`: `troupe pid 1`, then `├─ <id> (<type>, <restart>) pid <n>` per child
 *   (`restarting`, `not running` instead of the pid), indented `│  ` per level, then ` restarts=<n>` and
 *   ` last-exit=<reason>` when the gateway knows them.
 * - Exit codes: 0 success, 1 refused by the server or an invalid config file (the reasons are printed), 2 invalid
 *   arguments (checked before any request), 3 gateway unreachable or timed out, 4 admin key missing or refused
 *   (401/403), 5 server error (a 5xx or an unexpected answer). Usage errors are effect/cli's (`--help` on every
 *   command).
 * - `config validate <file>` needs no server: the file is loaded as `troupe serve --config` would load it (over the
 *   built-in defaults, environment ignored) and every issue is listed with its path.
 *
 * The HTTP client, the shared flags and the exit codes live in `internal/AdminClient.ts` (shared with the keys,
 * budgets, costs and dlq commands). Hand-rolled: the SSE reading of `tree --watch` (Node's `fetch` body reader).
 *
 * @since 0.1.0
 */
import { Console, Effect, Layer, Option, Result, Schema } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import * as SupervisionTree from "../runtime/SupervisionTree.ts"
import {
  call,
  CliFailure,
  decodeAnswer,
  invalidArgument,
  isoTimeMs,
  noAdminKey,
  parseBody,
  print,
  report,
  resolveTarget,
  shared,
  statusFailure
} from "./internal/AdminClient.ts"
import type { Target } from "./internal/AdminClient.ts"

/** A failure of an admin command, with its exit code (defined in `internal/AdminClient.ts`). */
export { CliFailure } from "./internal/AdminClient.ts"

type Node = SupervisionTree.Node

/**
 * The tree as text, as the demos print theirs (`npm run tree`, `npm start`): the one renderer of the runtime,
 * `SupervisionTree.render` (`<root> pid <n>`, then `├─ <id> (<type>, <restart>) pid <n>` per child, indented `│  `
 * per level, with ` restarts=<n> last-exit=<reason>` when the gateway knows them).
 */
export const renderTree = (node: Node): string => SupervisionTree.render(node)

/** One node of `GET /admin/supervision` (what `SupervisionTree.render` reads, all but the id optional). */
const TreeNode: Schema.Codec<Node> = Schema.Struct({
  id: Schema.String,
  type: Schema.optional(Schema.String),
  restart: Schema.optional(Schema.String),
  pid: Schema.optional(Schema.Number),
  state: Schema.optional(Schema.String),
  restarts: Schema.optional(Schema.Number),
  lastExit: Schema.optional(Schema.NullOr(Schema.String)),
  children: Schema.optional(Schema.Array(Schema.suspend((): Schema.Codec<Node> => TreeNode)))
})

/** A `snapshot` frame of `GET /admin/events`: its tree and time. */
const Snapshot = Schema.Struct({ tree: TreeNode, at: Schema.Number })

/** `GET /health/live` and `GET /health/ready` (the fields printed). */
const Live = Schema.Struct({ status: Schema.String })
const Ready = Schema.Struct({
  status: Schema.String,
  phase: Schema.optional(Schema.String),
  maintenance: Schema.optional(Schema.Boolean),
  checks: Schema.optional(Schema.Array(Schema.Struct({ name: Schema.String, status: Schema.String })))
})

/** The answer of `PATCH /admin/config`: the new version. */
const ConfigChange = Schema.Struct({ version: Schema.Number })
/** The answer of `POST /admin/maintenance`: the new mode. */
const MaintenanceMode = Schema.Struct({ enabled: Schema.Boolean })

const INTERVAL = { min: 100, max: 60_000 } as const

const watchTree = (t: Target & { readonly json: boolean; readonly interval: number }) =>
  Effect.gen(function*() {
    if (!Number.isInteger(t.interval) || t.interval < INTERVAL.min || t.interval > INTERVAL.max) {
      return yield* Effect.fail(
        invalidArgument(
          `--interval: expected an integer of ms from ${INTERVAL.min} to ${INTERVAL.max}, got ${t.interval}`
        )
      )
    }
    const { base, key, origin, timeout } = yield* resolveTarget(t)
    if (key === undefined) return yield* Effect.fail(noAdminKey())
    return yield* watchStream(t, base, origin, key, timeout)
  })

const watchStream = (
  t: { readonly json: boolean; readonly interval: number },
  url: string,
  origin: string,
  key: string,
  timeout: number
) =>
  Effect.tryPromise({
    try: async () => {
      let res: Response
      // the timeout runs until the stream answers (its headers); the stream itself lasts until Ctrl-C
      const abort = new AbortController()
      const timer = setTimeout(() => abort.abort(), timeout)
      try {
        res = await fetch(`${url}/admin/events?filter=troupe.none&interval=${t.interval}`, {
          headers: { authorization: `Bearer ${key}` },
          signal: abort.signal
        })
      } catch (e) {
        throw new CliFailure(
          abort.signal.aborted
            ? `${origin}: no answer within ${timeout} ms`
            : `${origin}: gateway unreachable (${
              e instanceof Error && e.cause instanceof Error ? e.cause.message : String(e)
            })`,
          3
        )
      } finally {
        clearTimeout(timer)
      }
      if (!res.ok) {
        const parsed = parseBody(await res.text().catch(() => ""))
        throw statusFailure("GET", "/admin/events", res.status, parsed) ??
          new CliFailure(`GET /admin/events: unexpected answer (HTTP ${res.status})`, 5)
      }
      if (res.body === null) throw new CliFailure("GET /admin/events: unexpected answer (no event stream)", 5)
      const reader = res.body.getReader()
      const dec = new TextDecoder()
      let buf = ""
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        buf += dec.decode(value, { stream: true })
        let i: number
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const chunk = buf.slice(0, i)
          buf = buf.slice(i + 2)
          if (!chunk.startsWith("event: snapshot")) continue
          const data = /^data: (.*)$/m.exec(chunk)?.[1]
          if (data === undefined) continue
          // a frame that is not JSON stays its text, which the Schema refuses
          const snap = decodeAnswer(Snapshot, parseBody(data), "GET", "/admin/events")
          if (Result.isFailure(snap)) throw snap.failure
          if (t.json) process.stdout.write(JSON.stringify(snap.success.tree) + "\n")
          else {
            process.stdout.write(
              `\x1b[2J\x1b[H${renderTree(snap.success.tree)}\n\n${isoTimeMs(snap.success.at)}  (Ctrl-C to quit)\n`
            )
          }
        }
      }
      throw new CliFailure("the gateway closed the event stream", 3)
    },
    catch: (e) => e instanceof CliFailure ? e : new CliFailure(String(e), 3)
  })

/** `troupe tree [--watch]`. */
export const tree = Command.make("tree", {
  ...shared,
  watch: Flag.Boolean("watch").pipe(
    Flag.withAlias("w"),
    Flag.withDescription("redraw on every snapshot until Ctrl-C"),
    Flag.withDefault(false)
  ),
  interval: Flag.Int("interval").pipe(
    Flag.withDescription("--watch refresh in ms, 100-60000 (default 1000)"),
    Flag.withDefault(1_000)
  )
}, (o) =>
  report(
    o.watch
      ? watchTree(o)
      // GET /admin/supervision answers the tree
      : Effect.flatMap(call(o, "GET", "/admin/supervision", TreeNode), (r) =>
        print(o.json, r.body, () => renderTree(r.answer)))
  )).pipe(Command.withDescription("Print the supervision tree (--watch: live)"))

/** `troupe health`. */
export const health = Command.make("health", shared, (o) =>
  report(Effect.gen(function*() {
    const live = yield* call(o, "GET", "/health/live", Live, { admin: false })
    const ready = yield* call(o, "GET", "/health/ready", Ready, { admin: false })
    yield* print(o.json, { live: live.body, ready: ready.body }, () => {
      const r = ready.answer
      return [
        `live: ${live.answer.status}`,
        `ready: ${r.status} (phase ${r.phase}${r.maintenance ? ", maintenance" : ""})`,
        ...(r.checks ?? []).map((c) => `  ${c.name}: ${c.status}`)
      ].join("\n")
    })
    if (ready.status !== 200) yield* Effect.fail(new CliFailure("the gateway is not ready", 1))
  }))).pipe(Command.withDescription("Liveness and readiness of the gateway (exit 1 when not ready)"))

/** `troupe metrics`. */
export const metrics = Command.make(
  "metrics",
  shared,
  (o) =>
    report(Effect.flatMap(call(o, "GET", "/metrics", Schema.String, { admin: false }), (r) => {
      const text = r.answer
      if (!o.json) return Console.log(text.trimEnd())
      const samples: Array<{ name: string; labels: string; value: number }> = []
      for (const line of text.split("\n")) {
        const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)/.exec(line)
        // group 1 is not optional in the pattern, so it is set when the line matches
        if (m !== null) samples.push({ name: m[1] as string, labels: m[2] ?? "", value: Number(m[3]) })
      }
      return Console.log(JSON.stringify(samples, null, 2))
    }))
).pipe(Command.withDescription("The Prometheus metrics of the gateway (--json: one object per sample)"))

const configGet = Command.make("get", {
  ...shared,
  path: Argument.String("path").pipe(Argument.withDescription("dotted path, e.g. gateway.port"), Argument.optional)
}, (o) =>
  report(Effect.flatMap(call(o, "GET", "/admin/config", Schema.Record(Schema.String, Schema.Unknown)), (r) => {
    let value: unknown = r.answer
    if (Option.isSome(o.path)) {
      for (const seg of o.path.value.split(".")) {
        value = typeof value === "object" && value !== null
          ? (value as Record<string, unknown>)[seg]
          : undefined // walking parsed JSON
      }
      if (value === undefined) return Effect.fail(new CliFailure(`no config value at ${o.path.value}`, 1))
    }
    return Console.log(o.json || typeof value === "object" ? JSON.stringify(value, null, 2) : String(value))
  }))).pipe(Command.withDescription("Print the effective configuration (secrets redacted), or one path of it"))

const configSet = Command.make("set", {
  ...shared,
  path: Argument.String("path").pipe(Argument.withDescription("dotted path, e.g. cache.maxEntries")),
  value: Argument.String("value").pipe(Argument.withDescription("a JSON value (a bare word is a string)"))
}, (o) =>
  report(Effect.gen(function*() {
    let value: unknown
    try {
      value = JSON.parse(o.value)
    } catch {
      value = o.value
    }
    const patch: Record<string, unknown> = {}
    const segs = o.path.split(".")
    let cursor = patch
    segs.forEach((seg, i) => {
      if (i === segs.length - 1) cursor[seg] = value
      // the segment was just set to this new object
      else cursor = (cursor[seg] = {}) as Record<string, unknown>
    })
    const r = yield* call(o, "PATCH", "/admin/config", ConfigChange, { body: patch })
    yield* print(o.json, r.body, () => `set ${o.path} (config version ${r.answer.version})`)
  }))).pipe(Command.withDescription("Change one configuration value on the running gateway (validated by it)"))

const configValidate = Command.make("validate", {
  json: shared.json,
  file: Argument.String("file").pipe(Argument.withDescription("JSON config file"))
}, (o) =>
  report(Effect.gen(function*() {
    // the config subsystem is loaded only by this command
    const { ConfigStore } = yield* Effect.promise(() => import("../config/index.ts"))
    const outcome = yield* Effect.scoped(Layer.build(ConfigStore.layerNode({ configFile: o.file, env: {} }))).pipe(
      // an empty list typed as the issues of an invalid outcome
      Effect.as({ valid: true as const, issues: [] as ReadonlyArray<{ path: string; message: string }> }),
      Effect.catch((e) =>
        e._tag === "ConfigValidationError"
          ? Effect.succeed({ valid: false as const, issues: e.issues })
          : Effect.fail(new CliFailure(`${o.file}: ${e.message}`, 1))
      )
    )
    yield* print(o.json, { file: o.file, ...outcome }, () =>
      outcome.valid
        ? `${o.file}: valid`
        : [
          `${o.file}: invalid`,
          ...outcome.issues.map((i) => `  ${i.path}: ${i.message}`)
        ].join("\n"))
    if (!outcome.valid) yield* Effect.fail(new CliFailure(`${o.file}: ${outcome.issues.length} issue(s)`, 1))
  }))).pipe(Command.withDescription("Validate a config file locally (no server needed); exit 1 listing every issue"))

/** `troupe config get|set|validate`. */
export const config = Command.make("config").pipe(
  Command.withDescription("Read, change or validate the configuration"),
  Command.withSubcommands([configGet, configSet, configValidate])
)

const maintenanceSwitch = (on: boolean) =>
  Command.make(on ? "on" : "off", {
    ...shared,
    message: Flag.String("message").pipe(Flag.withDescription("message returned to clients"), Flag.optional)
  }, (o) =>
    report(Effect.flatMap(
      call(o, "POST", "/admin/maintenance", MaintenanceMode, {
        body: { enabled: on, ...(Option.isSome(o.message) ? { message: o.message.value } : {}) }
      }),
      (r) => print(o.json, r.body, () => `maintenance ${r.answer.enabled ? "on" : "off"}`)
    ))).pipe(Command.withDescription(on ? "Switch maintenance mode on" : "Switch maintenance mode off"))

/** `troupe maintenance on|off`. */
export const maintenance = Command.make("maintenance").pipe(
  Command.withDescription("Switch the gateway's maintenance mode"),
  Command.withSubcommands([maintenanceSwitch(true), maintenanceSwitch(false)])
)
