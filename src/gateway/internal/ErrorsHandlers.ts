/**
 * Handlers of the `errors` group (`GET /admin/errors`): reads `ErrorAnalytics` when it is in the gateway's context,
 * answers `{ "enabled": false }` otherwise. Nothing is decoded (the endpoint takes no input).
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { ErrorAnalytics } from "../../errors/ErrorAnalytics.ts"
import { GatewayApi } from "../GatewayApi.ts"

/** The `errors` group's handler layer. */
export const errorsHandlers = HttpApiBuilder.group(GatewayApi, "errors", (handlers) =>
  Effect.gen(function*() {
    const analytics = yield* Effect.serviceOption(ErrorAnalytics)
    return handlers.handle("errors", () =>
      analytics._tag === "None"
        ? Effect.succeed({ enabled: false })
        : Effect.gen(function*() {
          const a = analytics.value
          return {
            enabled: true,
            aggregates: yield* a.aggregates,
            trends: yield* a.trends,
            impact: yield* a.impact,
            anomalies: yield* a.anomalies
          }
        }))
  }))
