/**
 * The `costs` group's handlers (`CostsApi.ts`): read the optional `Costs` ledger, `Budgets` and `Recommendations` services found in the
 * gateway's context when it is built; without the one an endpoint needs it answers 501 `not_configured`. A budget
 * store failure or a malformed scope is a 503 / 400 with the service's message. `/costs/usage/{user}` reached
 * through the own-usage rule (`OwnAccess`: the roles grant only `usage:view:own`) reads the principal's spend in the
 * caller's tenant only.
 *
 * @since 0.1.0
 */
import { Effect, Option } from "effect"
import { HttpServerResponse } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import { Budgets } from "../../budget/index.ts"
import { Costs, Recommendations } from "../../costs/index.ts"
import { GatewayApi } from "../GatewayApi.ts"
import { Caller } from "../GatewayAuth.ts"
import { httpError } from "../GatewayError.ts"
import { OwnAccess } from "../RoutePermission.ts"

const json = (body: unknown, status = 200) =>
  HttpServerResponse.text(JSON.stringify(body), { status, contentType: "application/json" })
const notConfigured = (service: string) =>
  Effect.succeed(
    httpError(501, "invalid_request_error", `no ${service} service is configured on this gateway`, {
      code: "not_configured"
    }).toResponse()
  )

/** The ledger's store failed (Redis, PostgreSQL): a 503. */
const storeFailure = (e: { readonly message: string }) => httpError(503, "server_error", e.message).toResponse()

const budgetFailure = (e: { readonly _tag: string; readonly message?: string }) =>
  httpError(
    e._tag === "InvalidOptions" ? 400 : 503,
    e._tag === "InvalidOptions" ? "invalid_request_error" : "server_error",
    e.message ?? e._tag
  ).toResponse()

/** The `costs` group's handlers. */
export const costsHandlers = HttpApiBuilder.group(GatewayApi, "costs", (handlers) =>
  Effect.gen(function*() {
    const costs = Option.getOrUndefined(yield* Effect.serviceOption(Costs))
    const budgets = Option.getOrUndefined(yield* Effect.serviceOption(Budgets))
    const recommendations = Option.getOrUndefined(yield* Effect.serviceOption(Recommendations))
    return handlers
      .handle("costStats", ({ query }) =>
        costs === undefined ? notConfigured("Costs") : Effect.map(
          costs.stats({
            period: query.period ?? "day",
            ...(query.groupBy !== undefined ? { groupBy: query.groupBy } : {})
          }),
          (s) => json(s)
        ).pipe(Effect.catch((e) => Effect.succeed(storeFailure(e)))))
      .handle("costUsage", ({ params, query }) =>
        costs === undefined ? notConfigured("Costs") : Effect.gen(function*() {
          // one's own usage (`usage:view:own`) is the principal's in the caller's tenant only
          const own = yield* OwnAccess
          const caller = yield* Caller
          const where = own && caller.tenant !== undefined
            ? { principal: params.user, tenant: caller.tenant }
            : { principal: params.user }
          const s = yield* costs.stats({ period: query.period ?? "month", groupBy: "model", where })
          return json({ user: params.user, ...s })
        }).pipe(Effect.catch((e) => Effect.succeed(storeFailure(e)))))
      .handle("costForecast", ({ query }) =>
        costs === undefined ?
          notConfigured("Costs") :
          Effect.map(costs.forecast(query.days !== undefined ? { days: query.days } : {}), (f) => json(f)).pipe(
            Effect.catch((e) => Effect.succeed(storeFailure(e)))
          ))
      .handle("costSavings", ({ query }) =>
        costs === undefined ? notConfigured("Costs") : Effect.map(
          costs.savings({
            period: query.period ?? "day",
            ...(query.tenant !== undefined ? { where: { tenant: query.tenant } } : {})
          }),
          (s) => json(s)
        ).pipe(Effect.catch((e) => Effect.succeed(storeFailure(e)))))
      .handle("costRecommendations", ({ query }) =>
        recommendations === undefined ? notConfigured("Recommendations") : Effect.map(
          recommendations.recommend({ period: query.period ?? "month" }),
          (list) =>
            json({ period: query.period ?? "month", recommendations: list })
        ).pipe(Effect.catch((e) => Effect.succeed(storeFailure(e)))))
      .handle("setBudget", ({ payload }) =>
        budgets === undefined ? notConfigured("Budgets") : budgets.set(payload).pipe(
          Effect.map(() =>
            json({ ok: true, budget: payload })
          ),
          Effect.catch((e) => Effect.succeed(budgetFailure(e)))
        ))
      .handle("getBudget", ({ params }) =>
        budgets === undefined ? notConfigured("Budgets") : budgets.get(params.scope).pipe(
          Effect.map((status) =>
            Option.isSome(status)
              ? json(status.value)
              : httpError(404, "not_found_error", `no budget for ${params.scope}`).toResponse()
          ),
          Effect.catch((e) =>
            Effect.succeed(budgetFailure(e))
          )
        ))
  }))
