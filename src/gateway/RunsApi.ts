/**
 * The durable-run admin endpoints as an effect `HttpApiGroup` (behind `AdminAuth`), added to `GatewayApi`:
 *
 * - `GET /admin/runs/{id}`: one run's journal — its steps in order (model responses and tool results, with their
 *   names and times) and its outcome, as `Journal.replay` reads it; nothing is executed again. 404 when the id is
 *   unknown.
 * - `GET /admin/runs?agent=&agentId=&limit=`: the most recent runs first (without their steps), of one definition
 *   or one agent id; `limit` defaults to 50, at most 1,000.
 *
 * The `RunJournal` service (`troupe/llmagent`) is optional: without one in the gateway's context both routes answer
 * 501 `not_configured`. A bad query is a 400 naming the field. The journal holds model output and tool results, so
 * the group requires the admin permission.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import { AdminAuth } from "./GatewayAuth.ts"

const Json = Schema.Unknown
const Name = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(512))

/** The `{id}` parameter of `GET /admin/runs/{id}`. */
export const RunIdParam = Schema.Struct({ id: Name })

/** The query of `GET /admin/runs`. */
export const RunsQuery = Schema.Struct({
  agent: Schema.optional(Name),
  agentId: Schema.optional(Name),
  limit: Schema.optional(
    Schema.NumberFromString.check(Schema.isInt(), Schema.isBetween({ minimum: 1, maximum: 1_000 }))
  )
})

/** The runs group: list and inspect durable runs. */
export class RunsGroup extends HttpApiGroup.make("runs")
  .add(HttpApiEndpoint.get("listRuns", "/admin/runs", { query: RunsQuery, success: Json }))
  .add(HttpApiEndpoint.get("getRun", "/admin/runs/:id", { params: RunIdParam, success: Json }))
  .middleware(AdminAuth)
{}
