/**
 * The error analytics admin endpoint as an effect `HttpApiGroup` (behind `AdminAuth`), added to `GatewayApi`:
 *
 * - `GET /admin/errors`: the sliding-window aggregates (by class, recovery, provider, model and route), the trends
 *   (per class, the counts of every kept bucket), the impact (which routes, tenants and agents a class hit) and the
 *   anomalies raised, from `troupe/errors`' `ErrorAnalytics` when the gateway runs with it; `{ "enabled": false }`
 *   otherwise. Admin routes require the admin credential like the other `/admin` routes.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import { AdminAuth } from "./GatewayAuth.ts"

/** The errors group: `GET /admin/errors`. */
export class ErrorsGroup extends HttpApiGroup.make("errors")
  .add(HttpApiEndpoint.get("errors", "/admin/errors", { success: Schema.Unknown }))
  .middleware(AdminAuth)
{}
