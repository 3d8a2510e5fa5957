/**
 * The dead-letter queue's admin endpoints as an effect `HttpApiGroup` (behind `AdminAuth`), added to `GatewayApi`:
 *
 * - `GET /admin/dlq?kind=&source=&errorTag=&status=&limit=`: the letters a filter selects, oldest first (at most
 *   `limit`, default 100, at most 10,000);
 * - `GET /admin/dlq/stats`: `{ depth, oldestAgeSeconds, total, byKind, byStatus }` — the letters not yet redriven,
 *   the age of the oldest of them in seconds (0 when none), every letter held, the depth per kind (`request`,
 *   `turn`) and the count per status; the same figures as the `troupe_dlq_depth` and `troupe_dlq_oldest_age_seconds`
 *   gauges, which the call refreshes;
 * - `GET /admin/dlq/{id}`: one letter (404 when the id is unknown);
 * - `POST /admin/dlq/redrive` with exactly one of `{ id }` (one letter), `{ filter }` (a non-empty filter: the
 *   redrivable letters it selects) or `{ all: true }` (every redrivable letter), and `ratePerSecond` / `limit` for
 *   many: the outcome per letter (`redriven`, `failed`, `skipped`, with a `reason` when a letter's stored form failed);
 * - `DELETE /admin/dlq?kind=&source=&errorTag=&status=` purges the letters a non-empty filter selects, and
 *   `DELETE /admin/dlq?all=true` every letter.
 *
 * Bodies and queries are decoded with Schema, unknown fields refused (a bad or unknown field is a 400 naming it:
 * `DELETE /admin/dlq?id=a` is refused, not read as an empty filter). Purging or redriving everything is never
 * implicit: an empty filter (no filter field, `{}`, `{ filter: {} }`) is a 400 naming `all` unless `all` is given,
 * and `all` beside a filter or an id is a 400 too. Without a `DeadLetters` service in
 * the gateway's context every route answers 404 (`not_found_error`, "no dead-letter queue"). Mirrors the redrive
 * API of SQS dead-letter queues; the rules of redrive are `DeadLetters`' (`src/dlq`).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { HttpApi, HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import { DeadLetterFilter, DeadLetterKind, DeadLetterStatus } from "../dlq/index.ts"
import { AdminAuth } from "./GatewayAuth.ts"
import { RequiredPermission } from "./RoutePermission.ts"

const Json = Schema.Unknown
const Name = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(512))

const filterFields = {
  kind: Schema.optional(DeadLetterKind),
  source: Schema.optional(Name),
  errorTag: Schema.optional(Name),
  status: Schema.optional(DeadLetterStatus)
}

/** The filter of `GET /admin/dlq` as query parameters, and the most letters listed. */
export const DlqQuery = Schema.Struct({
  ...filterFields,
  limit: Schema.optional(
    Schema.NumberFromString.check(Schema.isInt(), Schema.isBetween({ minimum: 1, maximum: 10_000 }))
  )
})

/** The query of `DELETE /admin/dlq`: a non-empty filter, or `all=true` (every letter). */
export const PurgeQuery = Schema.Struct({
  ...filterFields,
  all: Schema.optional(Schema.Literal("true"))
})

/** The `{id}` parameter of `GET /admin/dlq/{id}`. */
export const LetterId = Schema.Struct({ id: Name })

/** The body of `POST /admin/dlq/redrive`: one `id`, a non-empty `filter` or `all: true`, with a rate and a limit. */
export const RedriveBody = Schema.Struct({
  id: Schema.optional(Name),
  filter: Schema.optional(DeadLetterFilter),
  all: Schema.optional(Schema.Literal(true)),
  ratePerSecond: Schema.optional(Schema.Number.check(Schema.isBetween({ minimum: 0.001, maximum: 10_000 }))),
  limit: Schema.optional(Schema.Number.check(Schema.isInt(), Schema.isBetween({ minimum: 1, maximum: 100_000 })))
})

/** The dlq group: list, stats, inspect, redrive and purge. */
export class DlqGroup extends HttpApiGroup.make("dlq")
  .add(
    HttpApiEndpoint.get("listLetters", "/admin/dlq", { query: DlqQuery, success: Json }).annotate(
      RequiredPermission,
      "admin:read"
    )
  )
  .add(
    HttpApiEndpoint.get("letterStats", "/admin/dlq/stats", { success: Json }).annotate(
      RequiredPermission,
      "admin:read"
    )
  )
  .add(
    HttpApiEndpoint.get("inspectLetter", "/admin/dlq/:id", { params: LetterId, success: Json }).annotate(
      RequiredPermission,
      "admin:read"
    )
  )
  .add(HttpApiEndpoint.post("redriveLetters", "/admin/dlq/redrive", { payload: RedriveBody, success: Json }))
  .add(HttpApiEndpoint.delete("purgeLetters", "/admin/dlq", { query: PurgeQuery, success: Json }))
  .middleware(AdminAuth)
  .annotate(RequiredPermission, "gateway:admin")
  // an unknown field is a 400 naming it, never silently dropped (a dropped `id` would widen a purge to everything)
  .annotate(HttpApi.QueryParseOptions, { onExcessProperty: "error" })
  .annotate(HttpApi.PayloadParseOptions, { onExcessProperty: "error" })
{}
