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
 * - Arguments are checked before any request (exit 2); the flags and other exit codes are those of every admin
 *   command (`internal/AdminClient.ts`).
 *
 * @since 0.1.0
 */
import { Effect, Option } from "effect"
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

interface Stats {
  readonly period: string
  readonly start: number
  readonly total: number
  readonly count: number
  readonly groups: Readonly<Record<string, number>>
  readonly user?: string
}

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
      `/costs/stats${queryOf({ period: o.period, groupBy: Option.getOrUndefined(o.groupBy) })}`
    )
    yield* print(o.json, r.body, () => renderStats(r.body as Stats, Option.getOrElse(o.groupBy, () => "group"))) // the costs API's stats
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
    const r = yield* call(o, "GET", `/costs/usage/${encodeURIComponent(o.user)}${queryOf({ period: o.period })}`)
    yield* print(o.json, r.body, () => renderStats(r.body as Stats, "model")) // the costs API's usage
  }))).pipe(Command.withDescription("One user's spend in a period, by model"))

interface Forecast {
  readonly month: number
  readonly monthToDate: number
  readonly dailyMean: number
  readonly daysLeft: number
  readonly projected: number
  readonly method: string
}

const forecast = Command.make("forecast", {
  ...shared,
  days: Flag.String("days").pipe(
    Flag.withDescription("days the daily mean is taken over, 1-31 (default 7)"),
    Flag.withDefault("7")
  )
}, (o) =>
  report(Effect.gen(function*() {
    const days = yield* numberArg("--days", o.days, { min: 1, max: 31, int: true })
    const r = yield* call(o, "GET", `/costs/forecast${queryOf({ days })}`)
    yield* print(o.json, r.body, () => {
      const f = r.body as Forecast // the costs API's forecast
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
