/**
 * Handlers of the `access` group (see `AccessApi`): thin adapters from HTTP to `Keys` and `Abuse`; typed failures
 * become OpenAI-format errors (`InvalidIdentityInput` 400 naming the path, `KeyNotFound` 404, a store failure 503).
 * A create body or policy with a field the service's schema does not declare is a 400 naming it (as every admin
 * route's decoding does), before the service is looked up; the service decodes the rest.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Redacted, Result, Schema } from "effect"
import { HttpServerResponse } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import { AbusePolicy, type AbuseShape } from "../../identity/Abuse.ts"
import type { AuditShape } from "../../identity/Audit.ts"
import { CreateKeyInput, type KeysShape } from "../../identity/Keys.ts"
import type { PrivacyShape } from "../../identity/Privacy.ts"
import { GatewayApi } from "../GatewayApi.ts"
import { fromSchemaIssue, httpError } from "../GatewayError.ts"

/** The services behind the access endpoints (each optional: an absent one answers 404). */
export interface AccessServices {
  readonly keys?: KeysShape | undefined
  readonly abuse?: AbuseShape | undefined
  /** The audit log of the route-permission refusals (`access.denied`). */
  readonly audit?: AuditShape | undefined
  /** The GDPR erasure behind `POST /admin/privacy/erase` (501 when absent). */
  readonly privacy?: PrivacyShape | undefined
}

const json = (body: unknown, status = 200) =>
  HttpServerResponse.text(JSON.stringify(body), { status, contentType: "application/json" })
const missing = (what: string) =>
  Effect.succeed(httpError(404, "not_found_error", `${what} are not configured on this gateway`).toResponse())

const toResponse = (e: { readonly _tag: string }) => {
  switch (e._tag) {
    case "InvalidIdentityInput": {
      const { message, path } = e as unknown as { path: string; message: string } // narrowed by the tag
      return httpError(400, "invalid_request_error", `${path}: ${message}`, { param: path }).toResponse()
    }
    case "KeyNotFound":
      return httpError(404, "not_found_error", "no such key or block").toResponse()
    case "StoreFull":
      return httpError(507, "server_error", "the key store is full").toResponse()
    default:
      return httpError(503, "server_error", "the identity store is unavailable", { code: "unavailable" }).toResponse()
  }
}
/**
 * A 400 naming the first field of `payload` that the encoded side of `schema` does not declare, when that is its
 * only fault; any other fault is left to the service's own decoding (and its messages).
 */
const excessField = <S extends Schema.Top & { readonly DecodingServices: never }>(schema: S, root: string) => {
  const encoded = Schema.toEncoded(schema)
  const strict = Schema.decodeUnknownResult(encoded, { onExcessProperty: "error" })
  const lenient = Schema.decodeUnknownResult(encoded)
  return (payload: unknown) => {
    const checked = strict(payload)
    return Result.isFailure(checked) && Result.isSuccess(lenient(payload))
      ? fromSchemaIssue(checked.failure.issue, root).toResponse()
      : undefined
  }
}
const excessKeyField = excessField(CreateKeyInput, "create")
const excessPolicyField = excessField(AbusePolicy, "policy")

const run = <A, E extends { readonly _tag: string }>(effect: Effect.Effect<A, E>, status = 200) =>
  effect.pipe(Effect.map((a) => json(a, status)), Effect.catch((e) => Effect.succeed(toResponse(e))))

/** The `access` group's handlers over the given services. */
export const accessHandlers = (services: AccessServices = {}) =>
  HttpApiBuilder.group(GatewayApi, "access", (handlers) => {
    const { abuse, keys } = services
    return Effect.succeed(
      handlers
        .handle("createKey", ({ payload }) => {
          const excess = excessKeyField(payload)
          return excess !== undefined
            ? Effect.succeed(excess)
            : keys === undefined
            ? missing("keys")
            : run(
              Effect.map(
                keys.create(payload as never /* decoded by Keys.create */),
                (c) => ({ key: Redacted.value(c.key), id: c.id, info: c.info })
              ),
              201
            )
        })
        .handle(
          "listKeys",
          ({ query }) => keys === undefined ? missing("keys") : run(keys.list(query.tenant, query.principal))
        )
        .handle(
          "revokeKey",
          ({ params }) => keys === undefined ? missing("keys") : run(keys.revoke(params.tenant, params.id))
        )
        .handle("rotateKey", ({ params, query }) =>
          keys === undefined ? missing("keys") : run(Effect.map(
            keys.rotate(params.tenant, params.id, { grace: Duration.millis(query.graceMs ?? 0) }),
            (c) => ({ key: Redacted.value(c.key), id: c.id, info: c.info })
          )))
        .handle("listBlocks", () => abuse === undefined ? missing("abuse blocks") : run(abuse.list()))
        .handle(
          "liftBlock",
          ({ params }) => abuse === undefined ? missing("abuse blocks") : run(abuse.lift(params.kind, params.id))
        )
        .handle(
          "getAbusePolicy",
          () => abuse === undefined ? missing("abuse blocks") : Effect.succeed(json(abuse.policy()))
        )
        .handle(
          "setAbusePolicy",
          ({ payload }) => {
            const excess = excessPolicyField(payload)
            return excess !== undefined
              ? Effect.succeed(excess)
              : abuse === undefined
              ? missing("abuse blocks")
              : run(abuse.setPolicy(payload))
          }
        )
    )
  })
