/**
 * Handlers of the `dlq` group (see `DlqApi`): each route reads the optional `DeadLetters` service of the gateway's
 * context (404 without one) and answers JSON; a store failure is a 503, an unknown id a 404. A purge or a redrive
 * of everything needs `all` (an empty filter is a 400 naming `all`), and `all` beside a filter or an id is a 400.
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

const isEmpty = (filter: DeadLetterFilter): boolean => Object.values(filter).every((v) => v === undefined)

const refuse = (param: string, message: string) =>
  Effect.succeed(httpError(400, "invalid_request_error", message, { code: "invalid_value", param }).toResponse())

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
      .handle("redriveLetters", ({ payload }) => {
        const filter = payload.filter ?? {}
        if (payload.all === true && (payload.id !== undefined || !isEmpty(filter))) {
          return refuse("all", "all: true redrives every letter: give it without id or filter")
        }
        if (payload.id !== undefined && payload.filter !== undefined) {
          return refuse("filter", "give either id (one letter) or filter, not both")
        }
        if (payload.all !== true && payload.id === undefined && isEmpty(filter)) {
          return refuse("all", "an empty filter selects every letter: send all: true to redrive them all")
        }
        return withDlq((dlq) =>
          payload.id !== undefined
            ? Effect.map(dlq.redrive(payload.id), (outcome) => ({ outcomes: [outcome] }))
            : Effect.map(
              dlq.redriveMany(filter, {
                ...(payload.ratePerSecond !== undefined ? { ratePerSecond: payload.ratePerSecond } : {}),
                ...(payload.limit !== undefined ? { limit: payload.limit } : {})
              }),
              (outcomes) => ({ outcomes })
            )
        )
      })
      .handle("purgeLetters", ({ query }) => {
        const filter = filterOf(query)
        if (query.all === "true" && !isEmpty(filter)) {
          return refuse("all", "all=true purges every letter: give it without a filter")
        }
        if (query.all !== "true" && isEmpty(filter)) {
          return refuse("all", "an empty filter selects every letter: send all=true to purge them all")
        }
        return withDlq((dlq) => Effect.map(dlq.purge(filter), (purged) => ({ purged })))
      })
  }))
