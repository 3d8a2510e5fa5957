/**
 * `troupe dlq list|stats|redrive|purge`: the dead-letter queue, over the gateway's `/admin/dlq` endpoints (`DlqApi`,
 * backed by the dlq subsystem's `DeadLetters`; under `troupe serve` the pipeline records every request that failed
 * permanently, and a redrive re-runs it through the pipeline).
 *
 * Rules:
 * - The filter flags are the same on every subcommand: `--source` (the model or agent), `--kind request|turn`,
 *   `--error-tag` (the last error's tag), `--status dead|redriving|redriven`; every given flag must match.
 * - `list [filters] [--limit n]` prints the letters oldest first (at most n, 1-10,000, default 100).
 * - `stats` prints the queue's figures (`GET /admin/dlq/stats`): depth (dead letters), the oldest one's age, the
 *   total and the counts by kind and by status.
 * - `redrive` needs exactly one of `--id <id>` (one letter), a filter (the `dead` letters it selects) or `--all`
 *   (every `dead` letter, sent as `all: true`); `--rate` (letters per second, default 10) and `--limit` bound a
 *   redrive of many. The outcome of each letter is printed (`redriven`, `failed`: dead again, `skipped`: not
 *   redrivable, with the reason when its stored form failed); exit 1 when one failed.
 * - `purge` deletes, whatever their status, the letters a filter selects, or with `--all` every letter (sent as
 *   `all=true`); it asks nothing and so always needs `--yes`, and a filter or `--all` (never an implicit
 *   everything; the gateway refuses an empty filter too).
 * - A redrive of many waits for its answer as long as `--limit` letters take at `--rate` (at least `--timeout`),
 *   at most 2,147,483,647 ms (Node's longest timer, about 24.8 days).
 * - Every answer is decoded with the fields printed (exit 5 on one that is not the documented document).
 * - Arguments are checked before any request (exit 2); the flags and other exit codes are those of every admin
 *   command (`internal/AdminClient.ts`).
 *
 * @since 0.1.0
 */
import { Effect, Option, Schema } from "effect"
import { Command, Flag } from "effect/cli"
import {
  call,
  CliFailure,
  invalidArgument,
  isoTime,
  MAX_TIMER_MS,
  numberArg,
  print,
  queryOf,
  report,
  shared,
  table
} from "./internal/AdminClient.ts"

const filters = {
  source: Flag.String("source").pipe(Flag.withDescription("only letters for this model or agent"), Flag.optional),
  kind: Flag.Literals("kind", ["request", "turn"]).pipe(Flag.withDescription("request or turn"), Flag.optional),
  errorTag: Flag.String("error-tag").pipe(
    Flag.withDescription("only letters whose last error has this tag"),
    Flag.optional
  ),
  status: Flag.Literals("status", ["dead", "redriving", "redriven"]).pipe(
    Flag.withDescription("dead, redriving or redriven"),
    Flag.optional
  )
}

interface Filters {
  readonly source: Option.Option<string>
  readonly kind: Option.Option<"request" | "turn">
  readonly errorTag: Option.Option<string>
  readonly status: Option.Option<"dead" | "redriving" | "redriven">
}

const filterOf = (o: Filters): Effect.Effect<Readonly<Record<string, string>>, CliFailure> => {
  const f: Record<string, string> = {}
  for (
    const [name, flag, value] of [["source", "--source", o.source], ["errorTag", "--error-tag", o.errorTag]] as const
  ) {
    if (Option.isNone(value)) continue
    if (value.value.length < 1 || value.value.length > 512) {
      return Effect.fail(invalidArgument(`${flag}: expected 1-512 characters`))
    }
    f[name] = value.value
  }
  if (Option.isSome(o.kind)) f.kind = o.kind.value
  if (Option.isSome(o.status)) f.status = o.status.value
  return Effect.succeed(f)
}

/** A dead letter, as `GET /admin/dlq` lists it (the fields printed). */
const Letter = Schema.Struct({
  id: Schema.String,
  kind: Schema.String,
  source: Schema.String,
  error: Schema.Struct({ tag: Schema.String, message: Schema.String }),
  deadAt: Schema.Number,
  status: Schema.String,
  redrives: Schema.Number
})
type Letter = typeof Letter.Type

/** The letters as a table, oldest first. */
export const renderLetters = (letters: ReadonlyArray<Letter>): string =>
  letters.length === 0
    ? "no dead letters"
    : table(
      ["ID", "KIND", "SOURCE", "STATUS", "REDRIVES", "DEAD AT", "ERROR"],
      letters.map((
        l
      ) => [
        l.id,
        l.kind,
        l.source,
        l.status,
        String(l.redrives),
        isoTime(l.deadAt),
        `${l.error.tag}: ${l.error.message.slice(0, 80)}`
      ])
    )

const list = Command.make("list", {
  ...shared,
  ...filters,
  limit: Flag.String("limit").pipe(
    Flag.withDescription("at most this many letters, 1-10000 (default 100)"),
    Flag.withDefault("100")
  )
}, (o) =>
  report(Effect.gen(function*() {
    const filter = yield* filterOf(o)
    const limit = yield* numberArg("--limit", o.limit, { min: 1, max: 10_000, int: true })
    const r = yield* call(
      o,
      "GET",
      `/admin/dlq${queryOf({ ...filter, limit })}`,
      Schema.Struct({ letters: Schema.Array(Letter) })
    )
    yield* print(o.json, r.body, () => renderLetters(r.answer.letters))
  }))).pipe(Command.withDescription("List dead letters (filters: --source, --kind, --error-tag, --status)"))

/** The outcome of one letter of a redrive. */
const Outcome = Schema.Struct({
  id: Schema.String,
  result: Schema.Literals(["redriven", "failed", "skipped"]),
  /** why a letter whose stored form failed was skipped */
  reason: Schema.optional(Schema.String)
})
type Outcome = typeof Outcome.Type

const redrive = Command.make("redrive", {
  ...shared,
  ...filters,
  id: Flag.String("id").pipe(Flag.withDescription("redrive this one letter"), Flag.optional),
  all: Flag.Boolean("all").pipe(Flag.withDescription("redrive every dead letter"), Flag.withDefault(false)),
  rate: Flag.String("rate").pipe(Flag.withDescription("letters per second, 0.001-10000 (default 10)"), Flag.optional),
  limit: Flag.String("limit").pipe(Flag.withDescription("at most this many letters, 1-100000"), Flag.optional)
}, (o) =>
  report(Effect.gen(function*() {
    const filter = yield* filterOf(o)
    const filtered = Object.keys(filter).length > 0
    const chosen = [Option.isSome(o.id), filtered, o.all].filter(Boolean).length
    if (chosen !== 1) {
      return yield* Effect.fail(
        invalidArgument(
          "redrive: give exactly one of --id <id>, a filter (--source, --kind, --error-tag, --status) or --all"
        )
      )
    }
    const rate = Option.isSome(o.rate)
      ? yield* numberArg("--rate", o.rate.value, { min: 0.001, max: 10_000 })
      : undefined
    const limit = Option.isSome(o.limit)
      ? yield* numberArg("--limit", o.limit.value, { min: 1, max: 100_000, int: true })
      : undefined
    if (Option.isSome(o.id) && (rate !== undefined || limit !== undefined)) {
      return yield* Effect.fail(invalidArgument("--rate and --limit apply to a redrive of many, not to --id"))
    }
    if (Option.isSome(o.id) && (o.id.value.length < 1 || o.id.value.length > 512)) {
      return yield* Effect.fail(invalidArgument("--id: expected 1-512 characters"))
    }
    const body = Option.isSome(o.id)
      ? { id: o.id.value }
      : {
        // the gateway redrives everything only on an explicit `all: true` (an empty filter is refused)
        ...(filtered ? { filter } : { all: true }),
        ...(rate !== undefined ? { ratePerSecond: rate } : {}),
        ...(limit !== undefined ? { limit } : {})
      }
    // a redrive of many runs at `rate` letters per second: the request may take that long, up to Node's longest timer
    const timeout = Option.isSome(o.id)
      ? o.timeout
      : Math.min(MAX_TIMER_MS, Math.max(o.timeout, Math.ceil(((limit ?? 1_000) / (rate ?? 10)) * 1_000)))
    const r = yield* call(
      { ...o, timeout },
      "POST",
      "/admin/dlq/redrive",
      Schema.Struct({
        outcomes: Schema.Array(Outcome)
      }),
      { body }
    )
    const outcomes = r.answer.outcomes
    yield* print(o.json, r.body, () => {
      const count = (result: Outcome["result"]) => outcomes.filter((x) => x.result === result).length
      return [
        ...outcomes.map((x) => `${x.id}: ${x.result}${x.reason !== undefined ? ` (${x.reason})` : ""}`),
        `redriven ${count("redriven")}, failed ${count("failed")}, skipped ${count("skipped")}`
      ].join("\n")
    })
    const failed = outcomes.filter((x) => x.result === "failed").length
    if (failed > 0) return yield* Effect.fail(new CliFailure(`${failed} letter(s) failed again and are dead`, 1))
  }))).pipe(Command.withDescription("Redrive dead letters: --id, a filter or --all (with --rate)"))

const purge = Command.make("purge", {
  ...shared,
  ...filters,
  all: Flag.Boolean("all").pipe(Flag.withDescription("purge every letter"), Flag.withDefault(false)),
  yes: Flag.Boolean("yes").pipe(
    Flag.withDescription("confirm the deletion (required: nothing is asked)"),
    Flag.withDefault(false)
  )
}, (o) =>
  report(Effect.gen(function*() {
    const filter = yield* filterOf(o)
    const filtered = Object.keys(filter).length > 0
    if (filtered === o.all) {
      return yield* Effect.fail(
        invalidArgument("purge: give a filter (--source, --kind, --error-tag, --status) or --all, not both")
      )
    }
    if (!o.yes) return yield* Effect.fail(invalidArgument("purge deletes letters for good: add --yes to confirm"))
    // the gateway purges everything only on an explicit `all=true` (an empty filter is refused)
    const query = queryOf(o.all ? { all: "true" } : filter)
    const r = yield* call(o, "DELETE", `/admin/dlq${query}`, Schema.Struct({ purged: Schema.Number }))
    yield* print(o.json, r.body, () => `purged ${r.answer.purged} letter(s)`)
  }))).pipe(Command.withDescription("Delete dead letters for good: a filter or --all, with --yes"))

/** The queue's figures, as `GET /admin/dlq/stats` answers them. */
const Stats = Schema.Struct({
  depth: Schema.Number,
  oldestAgeSeconds: Schema.NullOr(Schema.Number),
  total: Schema.Number,
  byKind: Schema.Record(Schema.String, Schema.Number),
  byStatus: Schema.Record(Schema.String, Schema.Number)
})
type Stats = typeof Stats.Type

/** The queue's figures, one per line. */
export const renderStats = (s: Stats): string =>
  [
    `depth ${s.depth} (dead letters waiting)`,
    `oldest ${s.oldestAgeSeconds === null ? "-" : `${Math.round(s.oldestAgeSeconds)} s`}`,
    `total ${s.total}`,
    `by kind ${Object.entries(s.byKind).map(([k, n]) => `${k}=${n}`).join(" ") || "-"}`,
    `by status ${Object.entries(s.byStatus).map(([k, n]) => `${k}=${n}`).join(" ") || "-"}`
  ].join("\n")

const stats = Command.make("stats", { ...shared }, (o) =>
  report(Effect.gen(function*() {
    const r = yield* call(o, "GET", "/admin/dlq/stats", Stats)
    yield* print(o.json, r.body, () => renderStats(r.answer))
  }))).pipe(Command.withDescription("The queue's depth, oldest letter's age and counts by kind and status"))

/** `troupe dlq list|stats|redrive|purge`. */
export const dlq = Command.make("dlq").pipe(
  Command.withDescription("List, inspect the figures of, redrive and purge the dead-letter queue"),
  Command.withSubcommands([list, stats, redrive, purge])
)
