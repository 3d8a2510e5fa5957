/**
 * The agent routes: supervised LLM agents (`LlmAgents`) over HTTP.
 *
 * - `POST /v1/agents/{id}/turns` with `{ "input": string | messages, "maxSteps"?, "stream"? }`: one turn. Without
 *   `stream` the answer is JSON (the `TurnAnswer`); with `stream: true` it is SSE with the events `token`
 *   (`{ step, delta }`), `tool_call` (`{ step, id, name, arguments }`), `tool_result` (`{ step, id, name, ok,
 *   output | error, durationMillis }`), `step` (`{ step, text, finishReason, usage }`), `done` (`{ stopReason,
 *   answer, steps, usage, costUsd }`) and `error` (`{ error: { message, type, code } }`, the OpenAI error shape);
 *   every frame has an `id:`. A failure before the turn starts (bad id or input, unknown agent, the agent's turn
 *   queue full: 429 with `retry-after`) is a plain HTTP error status: a streamed turn's status waits until the agent
 *   has taken the turn (`askStream`'s `onAccepted`).
 * - Reconnect: the same POST (or `GET /v1/agents/{id}/turns`) with `Last-Event-ID` replays the frames after that id
 *   from the turn's replay buffer (see `TurnReplay`), then the live ones; it starts no new turn. An id the buffer no
 *   longer has is a 404, one older than the kept frames a 410.
 * - `GET /v1/agents/{id}`: the agent's status; `DELETE /v1/agents/{id}`: stops it (`{ stopped }`);
 *   `POST /v1/agents/{id}/cancel`: interrupts its in-flight turn (`{ cancelled }`).
 * - **A turn links the caller's principal to the agent's conversation**: with a `SubjectIndex` in the context
 *   (`Troupe.layer` provides one), a turn from an issued key's caller (a principal and a tenant) first links the
 *   principal to the conversation kept under the agent id, so `Privacy.erase` clears it. A turn whose link cannot be
 *   made (the index is full) is refused with 503 (`subject_index_full`) before anything is stored: no conversation
 *   outlives the erasure of a subject who took part in it.
 * - The routes use the gateway's API auth (`ApiAuth`), draining, maintenance, body limit and request ids; streams
 *   are counted by the drain like the chat streams.
 *
 * @since 0.1.0
 */
import { Deferred, Effect, Exit, Fiber, Layer, Option, Schema, Stream } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { randomBytes } from "node:crypto"
import type { AgentLoopEvent } from "../../agent/AgentLoop.ts"
import { SubjectIndex } from "../../identity/SubjectIndex.ts"
import type { Usage } from "../../llm/index.ts"
import { LlmAgents } from "../../llmagent/LlmAgents.ts"
import { checkId, checkTurn } from "../../llmagent/LlmAgentTurn.ts"
import { Caller } from "../GatewayAuth.ts"
import { fromSchemaIssue, GatewayHttpError, httpError } from "../GatewayError.ts"
import { isBodyTooLarge } from "./Middleware.ts"
import { GatewayRouteContext } from "./RouteContext.ts"
import { sseResponse } from "./SseResponse.ts"
import type { Frame } from "./SseResponse.ts"
import { TurnReplay } from "./TurnReplay.ts"
import type { TurnLog, TurnReplayOptions } from "./TurnReplay.ts"

export interface AgentRoutesOptions extends TurnReplayOptions {
  /** USD of one model call's usage (default: 0), summed over a turn's calls for its `done` event; `agentId` picks the definition. */
  readonly costOf?: (agentId: string, usage: Usage) => number
}

const TurnBody = Schema.Struct({
  input: Schema.Union([Schema.String, Schema.Array(Schema.Unknown)]),
  maxSteps: Schema.optionalKey(Schema.Unknown),
  stream: Schema.optionalKey(Schema.Boolean)
})
const decodeBody = Schema.decodeUnknownExit(TurnBody)

const json = (body: unknown, status = 200) =>
  HttpServerResponse.text(JSON.stringify(body), { status, contentType: "application/json" })

/** The HTTP error of an agent failure. */
export const agentHttpError = (failure: unknown): GatewayHttpError => {
  if (failure instanceof GatewayHttpError) return failure
  // a non-null object with a _tag (checked in the same expression); message and path are optional
  const tagged = typeof failure === "object" && failure !== null && "_tag" in failure
    ? failure as { _tag: string; message?: string; path?: string }
    : undefined
  const message = tagged?.message ?? "agent error"
  switch (tagged?._tag) {
    case "InvalidAgentId":
      return httpError(400, "invalid_request_error", message, { code: "invalid_agent_id", param: "id" })
    case "InvalidTurnInput":
      return httpError(400, "invalid_request_error", message, { code: "invalid_value", param: tagged.path ?? "input" })
    case "UnknownAgentKind":
      return httpError(404, "invalid_request_error", message, { code: "agent_not_found" })
    case "AgentBusy":
      return httpError(429, "rate_limit_error", message, { code: "agent_busy", retryAfterSeconds: 1 })
    case "AgentStartFailed":
      return httpError(503, "server_error", message, { code: "agent_unavailable", retryAfterSeconds: 1 })
    case "TurnCancelled":
      return httpError(409, "invalid_request_error", message, { code: "turn_cancelled" })
    case "InvalidAgentOutput":
      return httpError(502, "upstream_error", message, { code: "invalid_agent_output" })
    case "TurnFailed":
      return httpError(502, "upstream_error", message, { code: "turn_failed" })
    default:
      return httpError(500, "server_error", "The agent had an error while processing your request.", {
        code: "internal_error"
      })
  }
}

const errorFrame = (error: GatewayHttpError): Omit<Frame, "id"> => ({
  event: "error",
  data: JSON.stringify({ ...error.body, status: error.status })
})

/** The SSE frame of one loop event; `costUsd` gives the `done` frame's cost (of the turn so far, for its usage). */
export const eventFrame = (event: AgentLoopEvent, costUsd: (usage: Usage) => number): Omit<Frame, "id"> => {
  switch (event._tag) {
    case "StepStarted":
      return { event: "step_start", data: JSON.stringify({ step: event.step }) }
    case "TextDelta":
      return { event: "token", data: JSON.stringify({ step: event.step, delta: event.delta }) }
    case "ToolCallStarted":
      return {
        event: "tool_call",
        data: JSON.stringify({ step: event.step, id: event.id, name: event.name, arguments: event.arguments })
      }
    case "ToolCallFinished": {
      // a ToolCallFinished result is the ToolRunner's tagged outcome (Success with output, Failure with error)
      const r = event.result as {
        readonly _tag: string
        readonly output?: unknown
        readonly error?: { readonly message?: string }
      }
      return {
        event: "tool_result",
        data: JSON.stringify({
          step: event.step,
          id: event.id,
          name: event.name,
          ok: r._tag === "ToolSuccess",
          ...(r._tag === "ToolSuccess" ? { output: r.output } : { error: r.error?.message ?? "tool failed" }),
          durationMillis: event.durationMillis
        })
      }
    }
    case "StepFinished":
      return {
        event: "step",
        data: JSON.stringify({
          step: event.step,
          text: event.text,
          finishReason: event.finishReason,
          usage: event.usage
        })
      }
    case "Finished":
      return {
        event: "done",
        data: JSON.stringify({
          stopReason: event.stopReason,
          text: event.text,
          steps: event.steps,
          usage: event.usage,
          costUsd: costUsd(event.usage)
        })
      }
  }
}

/** The routes, needing `LlmAgents` and the gateway's route context. */
export const agentRoutes = (
  options: AgentRoutesOptions = {}
): Layer.Layer<never, never, HttpRouter.HttpRouter | LlmAgents | GatewayRouteContext> =>
  Layer.unwrap(Effect.gen(function*() {
    const agents = yield* LlmAgents
    const ctx = yield* GatewayRouteContext
    const replay = new TurnReplay(options)
    const costOf = options.costOf ?? (() => 0)
    const index = Option.getOrUndefined(yield* Effect.serviceOption(SubjectIndex))
    // links the caller's principal to the conversation under the agent id; a 503 response when it cannot be
    const linkConversation = (id: string) =>
      Effect.flatMap(
        Caller,
        (caller) =>
          index === undefined || caller.tenant === undefined || caller.principal === undefined
            ? Effect.succeed(undefined)
            : index.link(caller.tenant, caller.principal, "memory", id).pipe(
              Effect.as(undefined),
              Effect.catchTag("StoreFull", () =>
                Effect.succeed(
                  httpError(503, "server_error", "The subject index is full: the turn was not started.", {
                    code: "subject_index_full"
                  }).toResponse()
                ))
            )
      )

    const idOf = Effect.map(HttpRouter.params, (params) => params["id"] ?? "")
    const fail = (e: unknown) => Effect.succeed(agentHttpError(e).toResponse())

    const replayResponse = (log: TurnLog, after: number) =>
      sseResponse(replay.read(log, after, ctx.fork), {
        state: ctx.state,
        encode: (frame) => [frame],
        onError: () => ({ event: "error", data: JSON.stringify(agentHttpError(undefined).body) }),
        onDrained: () =>
          errorFrame(httpError(503, "server_error", "The server is shutting down.", { code: "shutting_down" })),
        headers: { "x-troupe-turn-id": log.turnId }
      })

    const resume = (id: string, lastEventId: string) =>
      Effect.suspend(() => {
        const found = replay.resume(lastEventId, id)
        if (found._tag === "Unknown") {
          return Effect.succeed(
            httpError(
              404,
              "invalid_request_error",
              "No buffered turn has this Last-Event-ID (the replay window is over).",
              {
                code: "event_not_found"
              }
            ).toResponse()
          )
        }
        if (found._tag === "Gone") {
          return Effect.succeed(
            httpError(410, "invalid_request_error", "The events after this Last-Event-ID are no longer buffered.", {
              code: "event_gone"
            }).toResponse()
          )
        }
        return replayResponse(found.log, found.after)
      })

    const startStreamed = (id: string, input: Parameters<typeof agents.askStream>[1]) =>
      Effect.gen(function*() {
        // failures before the turn starts are HTTP statuses
        yield* agents.ensureStarted(id)
        const turnId = randomBytes(9).toString("base64url")
        const log = replay.create(turnId, id)
        // the done frame's cost: every model call priced on its own (its perRequest fee too), as the turn's costUsd
        let spent = 0
        const price = () => spent
        // the status waits for the agent to take the turn: a refusal (a full queue) is a plain 429, not an SSE error
        const admitted = yield* Deferred.make<void, unknown>()
        const run = agents.askStream(id, input, { onAccepted: () => Deferred.doneUnsafe(admitted, Exit.void) }).pipe(
          Stream.runForEach((event) =>
            Effect.sync(() => {
              if (event._tag === "StepFinished") spent += costOf(id, event.usage)
              log.append(eventFrame(event, price), replay.now())
            })
          ),
          Effect.catchCause((cause) =>
            Effect.sync(() => {
              const error = cause.reasons.find((r) => r._tag === "Fail")
              const failure = error?._tag === "Fail" ? error.error : undefined
              // not yet accepted: a refusal, answered as the HTTP status; else an error event of the running turn
              if (!Deferred.doneUnsafe(admitted, Exit.fail(failure))) {
                log.append(errorFrame(agentHttpError(failure)), replay.now())
              }
            })
          ),
          Effect.ensuring(Effect.sync(() => {
            Deferred.doneUnsafe(admitted, Exit.void) // ended without a refusal: the stream shows what it has
            log.finish(replay.now())
          }))
        )
        const fiber = yield* ctx.forkFiber(run)
        log.cancel = Fiber.interrupt(fiber).pipe(Effect.asVoid)
        const admission = yield* Effect.exit(Deferred.await(admitted)).pipe(
          Effect.onInterrupt(() => log.cancel) // the caller left before the agent took the turn
        )
        if (Exit.isFailure(admission)) {
          replay.discard(log)
          const refusal = admission.cause.reasons.find((r) => r._tag === "Fail")
          return agentHttpError(refusal?._tag === "Fail" ? refusal.error : undefined).toResponse()
        }
        return yield* replayResponse(log, 0)
      })

    const turns = (request: HttpServerRequest.HttpServerRequest) =>
      ctx.authorize(
        request,
        Effect.gen(function*() {
          const id = yield* idOf
          const bad = checkId(id)
          if (bad !== undefined) return agentHttpError(bad).toResponse()
          const lastEventId = request.headers["last-event-id"]
          if (lastEventId !== undefined && lastEventId !== "") return yield* resume(id, lastEventId)
          if (request.method === "GET") {
            return httpError(400, "invalid_request_error", "GET resumes a turn: send Last-Event-ID.", {
              code: "missing_last_event_id"
            }).toResponse()
          }
          // a body that does not parse counts as absent (decoded below); one past the body limit is the
          // middleware's 413, as on the chat route
          const raw = yield* Effect.catch(
            request.json,
            (error) => isBodyTooLarge(error) ? Effect.die(error) : Effect.succeed(undefined as unknown)
          )
          if (raw === undefined) {
            return httpError(400, "invalid_request_error", "The body is not valid JSON.", { code: "invalid_json" })
              .toResponse()
          }
          const body = decodeBody(raw)
          if (body._tag === "Failure") {
            const issue = body.cause.reasons.find((r) => r._tag === "Fail")
            return issue?._tag === "Fail" && Schema.isSchemaError(issue.error)
              ? fromSchemaIssue(issue.error.issue).toResponse()
              : httpError(400, "invalid_request_error", "Invalid request body.").toResponse()
          }
          const { stream, ...turn } = body.value
          const checked = checkTurn(id, turn)
          if (checked instanceof Error) return agentHttpError(checked).toResponse()
          const input = turn as Parameters<typeof agents.ask>[1] // validated by `checkTurn` just above
          const refused = yield* linkConversation(id)
          if (refused !== undefined) return refused
          if (stream === true) return yield* startStreamed(id, input)
          const answer = yield* agents.ask(id, input)
          return json(answer)
        }).pipe(Effect.catch(fail))
      )

    const withId =
      <E>(f: (id: string) => Effect.Effect<HttpServerResponse.HttpServerResponse, E>) =>
      (request: HttpServerRequest.HttpServerRequest) =>
        ctx.authorize(request, Effect.flatMap(idOf, f).pipe(Effect.catch(fail)))

    return Layer.mergeAll(
      HttpRouter.add("POST", "/v1/agents/:id/turns", turns),
      HttpRouter.add("GET", "/v1/agents/:id/turns", turns),
      HttpRouter.add("GET", "/v1/agents/:id", withId((id) => Effect.map(agents.status(id), (status) => json(status)))),
      HttpRouter.add(
        "DELETE",
        "/v1/agents/:id",
        withId((id) => Effect.map(agents.stop(id), (stopped) => json({ id, stopped })))
      ),
      HttpRouter.add(
        "POST",
        "/v1/agents/:id/cancel",
        withId((id) => Effect.map(agents.cancel(id), (cancelled) => json({ id, cancelled })))
      )
    )
  }))
