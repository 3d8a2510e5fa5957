/**
 * Handlers of the `privacy` group (see `PrivacyApi`): `POST /admin/privacy/erase` over the gateway's
 * `access.privacy`; 501 `not_configured` without one, 503 `erasure_incomplete` when a step failed.
 *
 * @since 0.1.0
 */
import { Effect, Option } from "effect"
import { HttpServerResponse } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import type { PrivacyShape } from "../../identity/Privacy.ts"
import { Subject } from "../../identity/Rbac.ts"
import { GatewayApi } from "../GatewayApi.ts"
import { httpError } from "../GatewayError.ts"

/** The `privacy` group's handlers over `privacy` (the gateway's `access.privacy`), if any. */
export const privacyHandlers = (privacy: PrivacyShape | undefined) =>
  HttpApiBuilder.group(GatewayApi, "privacy", (handlers) =>
    Effect.succeed(
      handlers.handle("erase", ({ payload }) =>
        Effect.gen(function*() {
          if (privacy === undefined) {
            return httpError(501, "invalid_request_error", "no privacy service is configured on this gateway", {
              code: "not_configured"
            }).toResponse()
          }
          const subject = yield* Effect.serviceOption(Subject)
          const actor = Option.isSome(subject) ? subject.value.id.slice(0, 128) : undefined
          return yield* privacy.erase({ ...payload, ...(actor !== undefined && actor !== "" ? { actor } : {}) }).pipe(
            Effect.map((report) =>
              HttpServerResponse.text(JSON.stringify(report), { status: 200, contentType: "application/json" })
            ),
            Effect.catch((e) =>
              Effect.succeed(
                e._tag === "InvalidIdentityInput"
                  ? httpError(400, "invalid_request_error", `${e.path}: ${e.detail}`, { param: e.path }).toResponse()
                  : httpError(503, "server_error", `erasure incomplete at ${e.where}; erasing again is safe`, {
                    code: "erasure_incomplete",
                    retryAfterSeconds: 1
                  }).toResponse()
              )
            )
          )
        }))
    ))
