/**
 * The gateway's router-wide middleware, around every request (matched or not):
 *
 * 1. request id: a valid `x-request-id` (1–128 of `A-Z a-z 0-9 . _ : -`) is kept, anything else is replaced by a
 *    fresh UUID; the id is sent back on every response;
 * 2. CORS (effect's `HttpMiddleware.cors`, when `gateway.cors` is on): it answers preflights itself, before any
 *    gate, and puts its headers on every other response, the gates' refusals included;
 * 3. gates, in order — the health and metrics routes pass every gate:
 *    closing (drain) → 503 `shutting_down` with `connection: close`; maintenance → its status and message with
 *    `retry-after` (the admin API, exempt route prefixes and exempt keys pass, so maintenance can be switched off;
 *    an exempt key is read as `GatewayKeyAuth` reads one: `Authorization: Bearer`, else `x-api-key`); a declared
 *    body larger than `maxBodyBytes` → 413;
 * 4. the request runs with `MaxBodySize` set (a chunked body that grows past it is also a 413) and its route template
 *    as the route of its error context (`ErrorScope`: the failures recorded under it count by route), counted in
 *    flight;
 * 5. what the routes did not answer becomes an OpenAI-format error: unknown route → 404, defect → 500 (the cause
 *    is logged with the request id, never sent); and what they answered as a plain, non-JSON error (effect's
 *    `HttpApi` answers a body that is not JSON with a text 415) is rewritten into an OpenAI-format error of the same
 *    status and headers (415 `unsupported_media_type`; its text, which may echo a header, is not sent);
 * 6. HTTP metrics and one access-log line (method, route template, status, duration, request id — never headers,
 *    bodies, keys or prompts).
 *
 * @since 0.1.0
 */
import { Cause, Context, Effect, Redacted } from "effect"
import type { Types } from "effect"
import { HttpServerRequest, HttpServerResponse } from "effect/http"
import * as HttpIncomingMessage from "effect/http/HttpIncomingMessage"
import { randomUUID, timingSafeEqual } from "node:crypto"
import type { GatewaySection } from "../../config/index.ts"
import { ErrorScope } from "../../errors/ErrorScope.ts"
import { errorResponse, httpError, internalError } from "../GatewayError.ts"
import type { GatewayState } from "./GatewayState.ts"
import type { HttpMetrics } from "./HttpMetrics.ts"

const validRequestId = /^[A-Za-z0-9._:-]{1,128}$/

/** Routes no gate stops: probes and scrapes must answer during maintenance and drains. */
export const isOperationalPath = (url: string): boolean =>
  url.startsWith("/health/") || url === "/metrics" || url.startsWith("/metrics?")

/** Equal-time comparison of a presented key with a configured one. */
export const keyMatches = (presented: string, configured: Redacted.Redacted<string>): boolean => {
  const a = Buffer.from(presented)
  const b = Buffer.from(Redacted.value(configured))
  return a.length === b.length && timingSafeEqual(a, b)
}

/** The bearer token of a request, if any. */
export const bearerOf = (headers: Readonly<Record<string, string | undefined>>): string | undefined => {
  const auth = headers["authorization"]
  if (auth === undefined) return undefined
  const m = /^Bearer\s+(.+)$/i.exec(auth)
  return m?.[1]?.trim()
}

/** A body read that failed because the body passed `MaxBodySize` (the middleware answers it with a 413). */
export const isBodyTooLarge = (defect: unknown): boolean =>
  typeof defect === "object" && defect !== null && "_tag" in defect && defect._tag === "HttpServerError" &&
  "reason" in defect &&
  typeof defect.reason === "object" && defect.reason !== null && "reason" in defect.reason &&
  defect.reason.reason === "BodyTooLarge"

const isJson = (contentType: string | undefined): boolean =>
  contentType !== undefined && /^application\/([\w.+-]*\+)?json\b/i.test(contentType)

/** An error status answered with a body that is not JSON (effect's plain-text 415, an empty error body). */
export const isPlainError = (response: HttpServerResponse.HttpServerResponse): boolean =>
  response.status >= 400 &&
  !isJson(("contentType" in response.body ? response.body.contentType : undefined) ?? response.headers["content-type"])

const plainCodes: Readonly<Record<number, readonly [code: string, message: string]>> = {
  405: ["method_not_allowed", "This method is not allowed on this route."],
  406: ["not_acceptable", "The requested response type is not available."],
  415: ["unsupported_media_type", "Unsupported content type: send the body as application/json."]
}

/** The OpenAI-format error of a plain error answer: its status and headers, a JSON body. */
export const openAiFormOf = (
  response: HttpServerResponse.HttpServerResponse
): HttpServerResponse.HttpServerResponse => {
  const [code, message] = plainCodes[response.status] ??
    (response.status >= 500
      ? ["internal_error", internalError.description]
      : ["invalid_request", "The request could not be served."])
  const headers = Object.fromEntries(
    Object.entries(response.headers).filter(([name]) => name !== "content-type" && name !== "content-length")
  )
  return errorResponse(
    httpError(response.status, response.status >= 500 ? "server_error" : "invalid_request_error", message, { code }),
    headers
  )
}

const isRouteNotFound = (error: unknown): boolean =>
  typeof error === "object" && error !== null && "reason" in error && typeof error.reason === "object" &&
  error.reason !== null &&
  "_tag" in error.reason && error.reason._tag === "RouteNotFound"

export interface MiddlewareDeps {
  readonly state: GatewayState
  readonly metrics: HttpMetrics
  readonly settings: () => GatewaySection
  /** effect's CORS middleware when `gateway.cors` is on: it runs inside the request id, metrics and log, outside the gates */
  readonly cors?: (
    httpEffect: Effect.Effect<HttpServerResponse.HttpServerResponse, unknown>
  ) => Effect.Effect<HttpServerResponse.HttpServerResponse, unknown, HttpServerRequest.HttpServerRequest>
}

/** The middleware function (`HttpRouter.middleware(fn, { global: true })`). */
export const makeGatewayMiddleware = (deps: MiddlewareDeps) =>
(
  httpEffect: Effect.Effect<HttpServerResponse.HttpServerResponse, unknown>
): Effect.Effect<HttpServerResponse.HttpServerResponse, Types.unhandled, HttpServerRequest.HttpServerRequest> => // answers every failure itself; `unhandled` is what HttpRouter asks middleware to declare
  Effect.withFiber((fiber) => {
    const { state, metrics } = deps
    const settings = deps.settings()
    const request = Context.getUnsafe(fiber.context, HttpServerRequest.HttpServerRequest)
    const started = performance.now()
    const incoming = request.headers["x-request-id"]
    const requestId = incoming !== undefined && validRequestId.test(incoming) ? incoming : randomUUID()
    const url = request.url
    const route = metrics.routeOf(url)
    const method = request.method

    const finish = (response: HttpServerResponse.HttpServerResponse, note?: string) => {
      const seconds = (performance.now() - started) / 1000
      metrics.record(method, route, response.status, seconds)
      const out = HttpServerResponse.setHeader(response, "x-request-id", requestId)
      if (!settings.accessLog) return Effect.succeed(out)
      return Effect.as(
        Effect.logInfo("http request").pipe(Effect.annotateLogs({
          request_id: requestId,
          method,
          route,
          status: response.status,
          duration_ms: Math.round(seconds * 100_000) / 100,
          ...(note !== undefined ? { note } : {})
        })),
        out
      )
    }

    /** The gates' refusal of this request, if one stops it. */
    const refusal = (): HttpServerResponse.HttpServerResponse | undefined => {
      if (isOperationalPath(url)) return undefined
      if (!state.accepting) {
        state.refusedWhileClosing++
        return errorResponse(
          httpError(503, "server_error", "The server is shutting down; retry on another instance.", {
            code: "shutting_down",
            retryAfterSeconds: 1
          }),
          { connection: "close" }
        )
      }
      const maintenance = state.maintenance
      if (
        maintenance.enabled && !url.startsWith("/admin/") &&
        !maintenance.exemptRoutes.some((prefix) => url.startsWith(prefix))
      ) {
        // read as `GatewayKeyAuth` reads a key: the bearer token, else `x-api-key`
        const bearer = bearerOf(request.headers)
        const key = bearer !== undefined && bearer !== "" ? bearer : request.headers["x-api-key"]
        const exempt = key !== undefined && key !== "" && maintenance.exemptKeys.some((k) => keyMatches(key, k))
        if (!exempt) {
          return errorResponse(
            httpError(maintenance.status, "server_error", maintenance.message, {
              code: "maintenance",
              ...(maintenance.retryAfter > 0 ? { retryAfterSeconds: maintenance.retryAfter } : {})
            })
          )
        }
      }
      const declared = Number(request.headers["content-length"] ?? "0")
      if (declared > settings.maxBodyBytes) {
        return errorResponse(
          httpError(413, "invalid_request_error", `Request body larger than ${settings.maxBodyBytes} bytes.`, {
            code: "request_too_large"
          }),
          { connection: "close" }
        )
      }
      return undefined
    }
    // the gates run inside CORS, so their refusals carry its headers and a preflight is answered before them
    const gated = Effect.suspend(() => {
      const refused = refusal()
      if (refused !== undefined) return Effect.succeed(refused)
      state.requestStarted()
      return Effect.onExit(httpEffect, () => Effect.sync(() => state.requestEnded()))
    })

    return (deps.cors === undefined ? gated : deps.cors(gated)).pipe(
      Effect.provideService(HttpIncomingMessage.MaxBodySize, settings.maxBodyBytes as never), // a byte count is a ByteSize input
      Effect.provideService(ErrorScope, { route }),
      Effect.annotateLogs({ request_id: requestId }),
      Effect.catchCause((cause) => {
        for (const reason of cause.reasons) {
          if (reason._tag === "Fail" && isRouteNotFound(reason.error)) {
            return Effect.succeed(
              errorResponse(
                httpError(
                  404,
                  "invalid_request_error",
                  `Unknown route ${method} ${route === "unmatched" ? "" : route}`.trim(),
                  {
                    code: "not_found"
                  }
                )
              )
            )
          }
          if (reason._tag === "Die" && isBodyTooLarge(reason.defect)) {
            return Effect.succeed(errorResponse(
              httpError(413, "invalid_request_error", `Request body larger than ${settings.maxBodyBytes} bytes.`, {
                code: "request_too_large"
              }),
              { connection: "close" }
            ))
          }
          if (reason._tag === "Die" && HttpServerResponse.isHttpServerResponse(reason.defect)) {
            return Effect.succeed(reason.defect)
          }
        }
        if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>) // the client went away
        return Effect.as(
          Effect.logError("request failed", cause).pipe(Effect.annotateLogs({ request_id: requestId, route })),
          errorResponse(internalError)
        )
      }),
      Effect.flatMap((response) => finish(isPlainError(response) ? openAiFormOf(response) : response))
    )
  })
