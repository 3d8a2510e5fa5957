/**
 * `troupe budgets set|show`: spend budgets, over the gateway's `POST /costs/budget` and `GET /costs/budget/{scope}`
 * (`CostsApi`, backed by the budget subsystem's `Budgets`, which the pipeline enforces).
 *
 * Rules:
 * - A scope is `key:<id>`, `principal:<id>`, `tenant:<id>` or `project:<id>` (an id is 1-128 characters of
 *   `[A-Za-z0-9_.:@-]`); a gateway call is charged to `tenant:<its key's tenant>` and `principal:<its user>`.
 * - `set <scope> --limit <usd> [--period day|month|total] [--alert-at 0.5,0.8,1]` replaces the scope's budget; the
 *   limit is a number of USD from 0 to 1e9 (0 refuses every priced call), the period a UTC day, a UTC month
 *   (default) or `total` (never resets), the alert fractions in (0, 1], at most 8.
 * - `show <scope>` prints the limit, spent, reserved (held by calls in flight) and remaining amounts of the current
 *   period; a scope without a budget is refused (exit 1).
 * - Every answer is decoded with the fields printed (exit 5 on one that is not the documented document).
 * - Arguments are checked before any request (exit 2); the flags and other exit codes are those of every admin
 *   command (`internal/AdminClient.ts`).
 *
 * @since 0.1.0
 */
import { Effect, Option, Schema } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { SCOPE_PATTERN } from "../budget/Budget.ts"
import { call, invalidArgument, isoTime, numberArg, print, report, shared, usd } from "./internal/AdminClient.ts"

const scopeArg = Argument.String("scope").pipe(
  Argument.withDescription("key:<id>, principal:<id>, tenant:<id> or project:<id>")
)

const checkScope = (scope: string) =>
  SCOPE_PATTERN.test(scope)
    ? Effect.void
    : Effect.fail(
      invalidArgument(
        `scope: expected key:<id>, principal:<id>, tenant:<id> or project:<id> (id: 1-128 characters of [A-Za-z0-9_.:@-]), got ${
          JSON.stringify(scope)
        }`
      )
    )

/** A budget's state, as `GET /costs/budget/{scope}` answers it (the fields printed). */
const Status = Schema.Struct({
  scope: Schema.String,
  limit: Schema.Number,
  period: Schema.String,
  periodStart: Schema.Number,
  spent: Schema.Number,
  reserved: Schema.Number,
  remaining: Schema.Number,
  alertAt: Schema.Array(Schema.Number)
})
type Status = typeof Status.Type

/** A budget's state as text. */
export const renderBudget = (s: Status): string =>
  [
    `${s.scope}: ${usd(s.limit)} per ${s.period}${s.period === "total" ? "" : ` (since ${isoTime(s.periodStart)})`}`,
    `  spent ${usd(s.spent)}, reserved ${usd(s.reserved)}, remaining ${usd(s.remaining)}`,
    `  alerts at ${s.alertAt.map((a) => `${Math.round(a * 100)}%`).join(", ")}`
  ].join("\n")

const set = Command.make("set", {
  ...shared,
  scope: scopeArg,
  limit: Flag.String("limit").pipe(Flag.withDescription("USD per period, 0 to 1e9")),
  period: Flag.Literals("period", ["day", "month", "total"]).pipe(
    Flag.withDescription("UTC day, UTC month (default) or total"),
    Flag.withDefault("month" as const)
  ),
  alertAt: Flag.String("alert-at").pipe(
    Flag.withDescription("comma-separated fractions of the limit that raise an alert (default 0.5,0.8,1)"),
    Flag.optional
  )
}, (o) =>
  report(Effect.gen(function*() {
    yield* checkScope(o.scope)
    const limit = yield* numberArg("--limit", o.limit, { min: 0, max: 1e9 })
    let alertAt: Array<number> | undefined
    if (Option.isSome(o.alertAt)) {
      alertAt = []
      for (const part of o.alertAt.value.split(",")) {
        const n = Number(part.trim())
        if (part.trim() === "" || !Number.isFinite(n) || n <= 0 || n > 1) {
          return yield* Effect.fail(
            invalidArgument(
              `--alert-at: expected fractions in (0, 1] separated by commas, got ${JSON.stringify(o.alertAt.value)}`
            )
          )
        }
        alertAt.push(n)
      }
      if (alertAt.length > 8) return yield* Effect.fail(invalidArgument("--alert-at: at most 8 fractions"))
    }
    // the answer is not printed but with --json (as is)
    const r = yield* call(o, "POST", "/costs/budget", Schema.Unknown, {
      body: { scope: o.scope, limit, period: o.period, ...(alertAt !== undefined ? { alertAt } : {}) }
    })
    yield* print(o.json, r.body, () => `budget set: ${o.scope} ${usd(limit)} per ${o.period}`)
  }))).pipe(Command.withDescription("Set (replace) the budget of a scope"))

const show = Command.make("show", { ...shared, scope: scopeArg }, (o) =>
  report(Effect.gen(function*() {
    yield* checkScope(o.scope)
    const r = yield* call(o, "GET", `/costs/budget/${encodeURIComponent(o.scope)}`, Status)
    yield* print(o.json, r.body, () => renderBudget(r.answer))
  }))).pipe(Command.withDescription("Show a scope's budget: limit, spent, reserved, remaining"))

/** `troupe budgets set|show`. */
export const budgets = Command.make("budgets").pipe(
  Command.withDescription("Set and show spend budgets (per key, principal, tenant or project)"),
  Command.withSubcommands([set, show])
)
