/**
 * Handlers of the `runs` group (see `RunsApi`): read the optional `RunJournal` found in the gateway's context when it
 * is built (501 `not_configured` without one) and answer JSON; an unknown run id is a 404.
 *
 * @since 0.1.0
 */
import { Effect, Option } from "effect"
import { HttpServerResponse } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import { RunJournal } from "../../llmagent/index.ts"
import { GatewayApi } from "../GatewayApi.ts"
import { httpError } from "../GatewayError.ts"

const json = (body: unknown) =>
  HttpServerResponse.text(JSON.stringify(body), { status: 200, contentType: "application/json" })
const notConfigured = Effect.succeed(
  httpError(501, "invalid_request_error", "no RunJournal service is configured on this gateway", {
    code: "not_configured"
  }).toResponse()
)

/** The default number of runs `GET /admin/runs` lists. */
export const DEFAULT_RUNS_LIMIT = 50

/** The `runs` group's handlers over the `RunJournal` in the context, if any. */
export const runsHandlers = HttpApiBuilder.group(GatewayApi, "runs", (handlers) =>
  Effect.gen(function*() {
    const journal = Option.getOrUndefined(yield* Effect.serviceOption(RunJournal))
    return handlers
      .handle("listRuns", ({ query }) =>
        journal === undefined ? notConfigured : Effect.map(
          journal.list({
            ...(query.agent !== undefined ? { agent: query.agent } : {}),
            ...(query.agentId !== undefined ? { agentId: query.agentId } : {}),
            limit: query.limit ?? DEFAULT_RUNS_LIMIT
          }),
          (runs) => json({ runs })
        ))
      .handle("getRun", ({ params }) =>
        journal === undefined ? notConfigured : Effect.map(journal.get(params.id), (run) =>
          Option.isSome(run)
            ? json(run.value)
            : httpError(404, "not_found_error", `no run ${params.id} in the journal`).toResponse()))
  }))
