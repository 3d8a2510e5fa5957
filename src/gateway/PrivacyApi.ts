/**
 * The GDPR erasure endpoint as an effect `HttpApiGroup` (behind `AdminAuth`), added to `GatewayApi`:
 *
 * - `POST /admin/privacy/erase` with `{ tenant, principal }`: erases the subject (`Privacy.erase`: its audit
 *   entries' personal fields crypto-shredded, its issued keys deleted, its linked conversations and cache entries
 *   removed, the erasure audited) and answers the report `{ subject, erasedAt, items: [{ where, count, note? }] }`;
 *   permission `data:erase` (granted by no built-in role but `admin`).
 *
 * The service is the gateway's `access.privacy` (`Gateway.layer({ access: { privacy } })`); without one the route
 * answers 501 `not_configured`. A bad payload is a 400 naming the path (`OpenAiErrors`); an erasure stopped at a
 * failing step is a 503 `erasure_incomplete` naming the step (erasing again is safe).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import { Id } from "../identity/Principal.ts"
import { AdminAuth } from "./GatewayAuth.ts"
import { RequiredPermission } from "./RoutePermission.ts"

/** The body of `POST /admin/privacy/erase`. */
export const ErasePayload = Schema.Struct({ tenant: Id, principal: Id })

/** The privacy group: GDPR erasure of one subject. */
export class PrivacyGroup extends HttpApiGroup.make("privacy")
  .add(HttpApiEndpoint.post("erase", "/admin/privacy/erase", { payload: ErasePayload, success: Schema.Unknown }))
  .middleware(AdminAuth)
  .annotate(RequiredPermission, "data:erase")
{}
