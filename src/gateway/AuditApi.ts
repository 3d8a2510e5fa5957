/**
 * The audit-log admin endpoints as an effect `HttpApiGroup` (behind `AdminAuth`), added to `GatewayApi`:
 *
 * - `GET /admin/audit?tenant=&actor=&action=&resource=&status=&since=&until=&limit=`: one tenant's entries
 *   (tenants isolate audit queries), oldest first, at most `limit` (default 100, at most 10,000); permission
 *   `admin:read`.
 * - `GET /admin/audit/verify?from=&to=`: re-checks the hash chain (and the signed checkpoints of `Audit.layerSigned`)
 *   over positions `from ≤ seq < to` (default: the whole chain) and answers `Audit.verify`'s result (`Intact`, or
 *   `Broken` naming the first bad entry and the reason); permission `admin:read`.
 * - `GET /admin/audit/export?tenant=&since=&until=&format=jsonl|report&period=day|month`: the tenant's entries as JSON
 *   Lines (`application/x-ndjson`, one entry per line, as `AuditReport.exportJsonLines`) or a compliance report
 *   (`AuditReport.report`: counts by action and outcome per period, key usage, denials); permission `data:export`.
 *
 * The audit log is the gateway's `access.audit` (`Gateway.layer({ access: { audit } })`, as `troupe serve` gives
 * it); without one every route answers 501 `not_configured`. A bad query is a 400 naming the field; a store failure
 * is a 503.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import { AdminAuth } from "./GatewayAuth.ts"
import { RequiredPermission } from "./RoutePermission.ts"

const Json = Schema.Unknown
const Text = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(512))
const Millis = Schema.NumberFromString.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(0))

/** The query of `GET /admin/audit`. */
export const AuditQuery = Schema.Struct({
  tenant: Text,
  actor: Schema.optional(Text),
  action: Schema.optional(Text),
  resource: Schema.optional(Text),
  status: Schema.optional(Schema.Literals(["success", "failure", "denied"])),
  since: Schema.optional(Millis),
  until: Schema.optional(Millis),
  limit: Schema.optional(
    Schema.NumberFromString.check(Schema.isInt(), Schema.isBetween({ minimum: 1, maximum: 10_000 }))
  )
})

/** The query of `GET /admin/audit/verify`. */
export const VerifyQuery = Schema.Struct({
  from: Schema.optional(Schema.NumberFromString.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(0))),
  to: Schema.optional(Schema.NumberFromString.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(0)))
})

/** The query of `GET /admin/audit/export`. */
export const ExportQuery = Schema.Struct({
  tenant: Text,
  since: Schema.optional(Millis),
  until: Schema.optional(Millis),
  format: Schema.optional(Schema.Literals(["jsonl", "report"])),
  period: Schema.optional(Schema.Literals(["day", "month"]))
})

/** The audit group: query, verify and export the audit log. */
export class AuditGroup extends HttpApiGroup.make("audit")
  .add(HttpApiEndpoint.get("queryAudit", "/admin/audit", { query: AuditQuery, success: Json }))
  .add(HttpApiEndpoint.get("verifyAudit", "/admin/audit/verify", { query: VerifyQuery, success: Json }))
  .add(
    HttpApiEndpoint.get("exportAudit", "/admin/audit/export", { query: ExportQuery, success: Json }).annotate(
      RequiredPermission,
      "data:export"
    )
  )
  .middleware(AdminAuth)
  .annotate(RequiredPermission, "admin:read")
{}
