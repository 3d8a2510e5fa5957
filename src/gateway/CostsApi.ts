/**
 * The cost admin endpoints as an effect `HttpApiGroup` (behind `AdminAuth`), added to `GatewayApi`:
 *
 * - `GET /costs/stats?period=hour|day|month&groupBy=<dimension>`: the period's total, count and group totals
 *   (`Costs.stats`);
 * - `GET /costs/usage/{user}?period=…`: one principal's spend in the period, by model;
 * - `GET /costs/forecast?days=N`: the current month's linear forecast (`Costs.forecast`);
 * - `GET /costs/savings?period=…&tenant=…`: what the response cache and the router policy saved in the period
 *   (`Costs.savings`), optionally for one tenant;
 * - `GET /costs/recommendations?period=day|month`: cost recommendations from recorded usage (`Recommendations`:
 *   enable the cache, a cheaper sibling model, budgets near their limit), for the period's spend (default `month`);
 * - `POST /costs/budget`: sets a budget through the `Budgets` service (the payload decoded with Schema:
 *   `{ scope, limit, period }`); `GET /costs/budget/{scope}`: the budget's state.
 *
 * The `Costs`, `Budgets` and `Recommendations` services are optional: without the one an endpoint needs it answers 501
 * `not_configured`. An invalid query or payload is a 400 naming the path (`CostsErrors`, provided by the gateway);
 * a ledger whose store fails (`CostsStoreError`: Redis or PostgreSQL down) answers 503, and so does a
 * recommendation whose budget store fails (`BudgetStoreError`).
 *
 * @since 0.1.0
 */
import { Effect, Layer, Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, HttpApiMiddleware } from "effect/http-api"
import { BudgetSpec } from "../budget/index.ts"
import { costDimensions } from "../costs/index.ts"
import { AdminAuth } from "./GatewayAuth.ts"
import { fromSchemaIssue, internalError } from "./GatewayError.ts"
import { RequiredPermission } from "./RoutePermission.ts"

/** Turns the cost endpoints' request-decoding errors into 400s naming the path (a response-encoding one is a 500). */
export class CostsErrors extends HttpApiMiddleware.Service<CostsErrors>()("troupe/gateway/CostsErrors") {}

/** The layer of `CostsErrors`. */
export const layerCostsErrors: Layer.Layer<CostsErrors> = HttpApiMiddleware.layerSchemaErrorTransform(
  CostsErrors,
  (error) =>
    error.kind === "ResponseHeaders"
      ? Effect.succeed(internalError.toResponse())
      : Effect.succeed(
        fromSchemaIssue(
          error.cause.issue,
          error.kind === "Payload" || error.kind === "Body" ? undefined : error.kind.toLowerCase()
        ).toResponse()
      )
)

const Json = Schema.Unknown

/** A UTC period. */
export const CostPeriodParam = Schema.Literals(["hour", "day", "month"])

/** The `GET /costs/stats` query. */
export const CostStatsQuery = Schema.Struct({
  period: Schema.optional(CostPeriodParam),
  groupBy: Schema.optional(Schema.Literals(costDimensions))
})

/** The `GET /costs/usage/{user}` query. */
export const CostUsageQuery = Schema.Struct({ period: Schema.optional(CostPeriodParam) })

/** The `GET /costs/savings` query. */
export const CostSavingsQuery = Schema.Struct({
  period: Schema.optional(CostPeriodParam),
  tenant: Schema.optional(Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(256)))
})

/** The `GET /costs/recommendations` query. */
export const CostRecommendationsQuery = Schema.Struct({ period: Schema.optional(Schema.Literals(["day", "month"])) })

/** The `{user}` parameter. */
export const CostUser = Schema.Struct({ user: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(256)) })

/** The `{scope}` parameter. */
export const BudgetScopeParam = Schema.Struct({
  scope: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(256))
})

/** The `GET /costs/forecast` query. */
export const CostForecastQuery = Schema.Struct({
  days: Schema.optional(Schema.NumberFromString.check(Schema.isInt(), Schema.isBetween({ minimum: 1, maximum: 31 })))
})

/** The costs group: stats, usage, forecast and budgets. */
export class CostsGroup extends HttpApiGroup.make("costs")
  .add(HttpApiEndpoint.get("costStats", "/costs/stats", { query: CostStatsQuery, success: Json }))
  .add(
    HttpApiEndpoint.get("costUsage", "/costs/usage/:user", { params: CostUser, query: CostUsageQuery, success: Json })
      .annotate(RequiredPermission, "usage:view")
  )
  .add(HttpApiEndpoint.get("costForecast", "/costs/forecast", { query: CostForecastQuery, success: Json }))
  .add(HttpApiEndpoint.get("costSavings", "/costs/savings", { query: CostSavingsQuery, success: Json }))
  .add(
    HttpApiEndpoint.get("costRecommendations", "/costs/recommendations", {
      query: CostRecommendationsQuery,
      success: Json
    })
  )
  .add(
    HttpApiEndpoint.post("setBudget", "/costs/budget", { payload: BudgetSpec, success: Json }).annotate(
      RequiredPermission,
      "gateway:admin"
    )
  )
  .add(HttpApiEndpoint.get("getBudget", "/costs/budget/:scope", { params: BudgetScopeParam, success: Json }))
  .middleware(AdminAuth)
  .middleware(CostsErrors)
  .annotate(RequiredPermission, "usage:view")
{}
