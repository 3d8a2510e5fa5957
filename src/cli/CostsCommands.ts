/**
 * `troupe costs stats|usage|forecast`: the spend ledger, over the gateway's `GET /costs/stats`,
 * `GET /costs/usage/{user}` and `GET /costs/forecast` (`CostsApi`, backed by the costs subsystem's `Costs`).
 *
 * Rules:
 * - Periods are UTC calendar periods: `hour`, `day` (default of `stats`) or `month` (default of `usage`).
 * - `stats [--period p] [--group-by d]` prints the period's total and number of priced calls, and with `--group-by`
 *   (tenant, principal, key, project, agent, model, provider, cached) the total per value.
 * - `usage <user>` is one principal's spend in the period, by model (the user is the `user` field of the calls).
 * - `forecast [--days n]` projects the current month linearly on the last n days (1-31, default 7).
 * - A call whose model has no price is not in the ledger; the offline scripted model is priced at 0, so its calls
 *   are counted at $0.
 * - Every answer is decoded with the fields printed (exit 5 on one that is not the documented document).
 * - Arguments are checked before any request (exit 2); the flags and other exit codes are those of every admin
 *   command (`internal/AdminClient.ts`).
 *
 * @since 0.1.0
 */
import { Effect, Option, Schema } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import {
  call,
  invalidArgument,
  isoTime,
  numberArg,
  print,
  queryOf,
  report,
  shared,
  table,
  usd
} from "./internal/AdminClient.ts"

/** A period's spend, as `GET /costs/stats` and `GET /costs/usage/{user}` answer it (the fields printed). */
const Stats = Schema.Struct({
  period: Schema.String,
  start: Schema.Number,
  total: Schema.Number,
  count: Schema.Number,
  groups: Schema.Record(Schema.String, Schema.Number),
  user: Schema.optional(Schema.String)
})
type Stats = typeof Stats.Type

/** A stats answer as text: the total, the count, and the groups as a table. */
export const renderStats = (s: Stats, groupBy = "group"): string => {
  const head = `${s.user !== undefined ? `${s.user}: ` : ""}${
    usd(s.total)
  } in ${s.count} call(s) this ${s.period} (since ${isoTime(s.start)})`
  const groups = Object.entries(s.groups).sort((a, b) => b[1] - a[1])
  return groups.length === 0
    ? head
    : `${head}\n${table([groupBy.toUpperCase(), "USD"], groups.map(([k, v]) => [k, usd(v)]))}`
}

const period = (fallback: "day" | "month") =>
  Flag.Literals("period", ["hour", "day", "month"]).pipe(
    Flag.withDescription(`UTC hour, day or month (default ${fallback})`),
    Flag.withDefault(fallback)
  )

const stats = Command.make("stats", {
  ...shared,
  period: period("day"),
  groupBy: Flag.Literals("group-by", ["tenant", "principal", "key", "project", "agent", "model", "provider", "cached"])
    .pipe(
      Flag.withDescription("total per value of this dimension"),
      Flag.optional
    )
}, (o) =>
  report(Effect.gen(function*() {
    const r = yield* call(
      o,
      "GET",
      `/costs/stats${queryOf({ period: o.period, groupBy: Option.getOrUndefined(o.groupBy) })}`,
      Stats
    )
    yield* print(o.json, r.body, () => renderStats(r.answer, Option.getOrElse(o.groupBy, () => "group")))
  }))).pipe(Command.withDescription("Total spend and priced calls of a period, optionally grouped"))

const usage = Command.make("usage", {
  ...shared,
  user: Argument.String("user").pipe(Argument.withDescription("the principal (the calls' user field)")),
  period: period("month")
}, (o) =>
  report(Effect.gen(function*() {
    if (o.user.length < 1 || o.user.length > 256) {
      return yield* Effect.fail(invalidArgument("user: expected 1-256 characters"))
    }
    const r = yield* call(
      o,
      "GET",
      `/costs/usage/${encodeURIComponent(o.user)}${queryOf({ period: o.period })}`,
      Stats
    )
    yield* print(o.json, r.body, () => renderStats(r.answer, "model"))
  }))).pipe(Command.withDescription("One user's spend in a period, by model"))

/** The month's projection, as `GET /costs/forecast` answers it (the fields printed). */
const Forecast = Schema.Struct({
  monthToDate: Schema.Number,
  dailyMean: Schema.Number,
  daysLeft: Schema.Number,
  projected: Schema.Number,
  method: Schema.String
})

const forecast = Command.make("forecast", {
  ...shared,
  days: Flag.String("days").pipe(
    Flag.withDescription("days the daily mean is taken over, 1-31 (default 7)"),
    Flag.withDefault("7")
  )
}, (o) =>
  report(Effect.gen(function*() {
    const days = yield* numberArg("--days", o.days, { min: 1, max: 31, int: true })
    const r = yield* call(o, "GET", `/costs/forecast${queryOf({ days })}`, Forecast)
    yield* print(o.json, r.body, () => {
      const f = r.answer
      return [
        `projected this month: ${usd(f.projected)} (${f.method})`,
        `  month to date ${usd(f.monthToDate)}, daily mean ${usd(f.dailyMean)}, ${f.daysLeft} day(s) left`
      ].join("\n")
    })
  }))).pipe(Command.withDescription("The current month's projected spend"))

/** `troupe costs stats|usage|forecast`. */
export const costs = Command.make("costs").pipe(
  Command.withDescription("Spend: period totals, per-user usage, the month's forecast"),
  Command.withSubcommands([stats, usage, forecast])
)
