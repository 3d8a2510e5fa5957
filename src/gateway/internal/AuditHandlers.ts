/**
 * Handlers of the `audit` group (see `AuditApi`): query, verify and export the gateway's audit log (`access.audit`);
 * 501 `not_configured` without one, 503 when its store fails.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { HttpServerResponse } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import type { AuditShape } from "../../identity/Audit.ts"
import { exportJsonLines, report } from "../../identity/AuditReport.ts"
import { GatewayApi } from "../GatewayApi.ts"
import { httpError } from "../GatewayError.ts"

/** The default number of entries `GET /admin/audit` answers. */
export const DEFAULT_AUDIT_LIMIT = 100
/** The most entries one export reads. */
export const MAX_EXPORT_ENTRIES = 100_000

const json = (body: unknown) =>
  HttpServerResponse.text(JSON.stringify(body), { status: 200, contentType: "application/json" })
const notConfigured = Effect.succeed(
  httpError(501, "invalid_request_error", "no audit log is configured on this gateway", { code: "not_configured" })
    .toResponse()
)
const unavailable = () =>
  Effect.succeed(
    httpError(503, "server_error", "the audit store is unavailable", {
      code: "audit_store_unavailable",
      retryAfterSeconds: 1
    })
      .toResponse()
  )

const range = (q: { readonly since?: number | undefined; readonly until?: number | undefined }) => ({
  ...(q.since !== undefined ? { since: q.since } : {}),
  ...(q.until !== undefined ? { until: q.until } : {})
})

/** The `audit` group's handlers over `audit` (the gateway's `access.audit`), if any. */
export const auditHandlers = (audit: AuditShape | undefined) =>
  HttpApiBuilder.group(GatewayApi, "audit", (handlers) =>
    Effect.succeed(
      handlers
        .handle("queryAudit", ({ query }) =>
          audit === undefined ? notConfigured : audit.query({
            tenant: query.tenant,
            ...(query.actor !== undefined ? { actor: query.actor } : {}),
            ...(query.action !== undefined ? { action: query.action } : {}),
            ...(query.resource !== undefined ? { resource: query.resource } : {}),
            ...(query.status !== undefined ? { status: query.status } : {}),
            ...range(query),
            limit: query.limit ?? DEFAULT_AUDIT_LIMIT
          }).pipe(Effect.map((entries) => json({ entries })), Effect.catch(unavailable)))
        .handle("verifyAudit", ({ query }) =>
          audit === undefined ? notConfigured : audit.verify({
            ...(query.from !== undefined ? { from: query.from } : {}),
            ...(query.to !== undefined ? { to: query.to } : {})
          }).pipe(Effect.map(json), Effect.catch(unavailable)))
        .handle("exportAudit", ({ query }) =>
          audit === undefined ?
            notConfigured :
            audit.query({ tenant: query.tenant, ...range(query), limit: MAX_EXPORT_ENTRIES }).pipe(
              Effect.map((entries) =>
                query.format === "report"
                  ? json(report(entries, { period: query.period ?? "day" }))
                  : HttpServerResponse.text(exportJsonLines(entries), {
                    status: 200,
                    contentType: "application/x-ndjson"
                  })
              ),
              Effect.catch(unavailable)
            ))
    ))
