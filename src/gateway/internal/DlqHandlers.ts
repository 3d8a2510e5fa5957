/**
 * Handlers of the `dlq` group (see `DlqApi`): each route reads the optional `DeadLetters` service of the gateway's
 * context (404 without one) and answers JSON; a store failure is a 503, an unknown id a 404.
 *
 * @since 0.1.0
 */
import { Effect, Option } from "effect"
import { HttpServerResponse } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import type { DeadLetterFilter } from "../../dlq/index.ts"
import { DeadLetters } from "../../dlq/index.ts"
import { GatewayApi } from "../GatewayApi.ts"
import { httpError } from "../GatewayError.ts"

const json = (body: unknown, status = 200) =>
  HttpServerResponse.text(JSON.stringify(body), { status, contentType: "application/json" })

const filterOf = (
  q: {
    readonly kind?: DeadLetterFilter["kind"]
    readonly source?: string | undefined
    readonly errorTag?: string | undefined
    readonly status?: DeadLetterFilter["status"]
  }
): DeadLetterFilter => ({
  ...(q.kind !== undefined ? { kind: q.kind } : {}),
  ...(q.source !== undefined ? { source: q.source } : {}),
  ...(q.errorTag !== undefined ? { errorTag: q.errorTag } : {}),
  ...(q.status !== undefined ? { status: q.status } : {})
})

/** The `dlq` group's handlers over the `DeadLetters` in the context, if any. */
export const dlqHandlers = HttpApiBuilder.group(GatewayApi, "dlq", (handlers) =>
  Effect.gen(function*() {
    const found = yield* Effect.serviceOption(DeadLetters)
    const withDlq = <A, E>(f: (dlq: DeadLetters["Service"]) => Effect.Effect<A, E>) =>
      Option.isNone(found)
        ? Effect.succeed(httpError(404, "not_found_error", "no dead-letter queue").toResponse())
        : f(found.value).pipe(
          Effect.map((body) => json(body)),
          Effect.catch((e: unknown) =>
            Effect.succeed(
              (typeof e === "object" && e !== null && "_tag" in e && e._tag === "DeadLetterNotFound"
                ? httpError(404, "not_found_error", "no dead letter with that id")
                : httpError(503, "api_error", "the dead-letter store failed")).toResponse()
            )
          )
        )
    return handlers
      .handle("listLetters", ({ query }) =>
        withDlq((dlq) =>
          Effect.map(dlq.list(filterOf(query), query.limit ?? 100), (letters) => ({ letters }))
        ))
      .handle("letterStats", () =>
        withDlq((dlq) =>
          Effect.map(dlq.stats(), (s) => ({
            depth: s.depth,
            oldestAgeSeconds: s.oldestAgeMillis / 1000,
            total: s.total,
            byKind: s.byKind,
            byStatus: s.byStatus
          }))
        ))
      .handle("inspectLetter", ({ params }) => withDlq((dlq) => dlq.inspect(params.id)))
      .handle("redriveLetters", ({ payload }) =>
        withDlq((dlq) =>
          payload.id !== undefined
            ? Effect.map(dlq.redrive(payload.id), (outcome) => ({ outcomes: [outcome] }))
            : Effect.map(
              dlq.redriveMany(payload.filter ?? {}, {
                ...(payload.ratePerSecond !== undefined ? { ratePerSecond: payload.ratePerSecond } : {}),
                ...(payload.limit !== undefined ? { limit: payload.limit } : {})
              }),
              (outcomes) => ({ outcomes })
            )
        ))
      .handle("purgeLetters", ({ query }) =>
        withDlq((dlq) =>
          Effect.map(dlq.purge(filterOf(query)), (purged) => ({ purged }))
        ))
  }))
