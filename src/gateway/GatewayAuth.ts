/**
 * Who is calling: the `Caller` service and the two `HttpApiMiddleware`s that provide it — `ApiAuth` on `/v1/*` and
 * `AdminAuth` on `/admin/*` — both bearer (`Authorization: Bearer <key>`), with the keys of the config's
 * `gateway.auth` section, read live (a key rotated through the ConfigStore applies to the next request).
 *
 * Rules:
 * - `/v1/*` with no `apiKeys` configured is open (the caller is `anonymous`); with keys, a request without one of
 *   them (or the admin key) is refused with 401;
 * - `/admin/*` with no `adminKey` configured is refused with 403 (the admin API is off); without a key or with an
 *   unknown one, 401; with an API key that is not the admin key, 403;
 * - keys are compared in constant time and never logged; the caller id is a short SHA-256 prefix of the key;
 * - the caller's RBAC roles: the admin key is `admin`; a configured API key, and the anonymous caller of an open
 *   `/v1/*`, are `api_user` (what each route then requires is checked by `RoutePermission.enforce`).
 *
 * Both are plain `HttpApiMiddleware` services: an identity subsystem replaces them by providing its own layer for
 * `ApiAuth` / `AdminAuth` (issued keys, tenants, scopes) without touching the routes.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Redacted } from "effect"
import { HttpApiMiddleware, HttpApiSecurity } from "effect/http-api"
import { createHash } from "node:crypto"
import type { GatewaySection } from "../config/index.ts"
import { errorResponse, httpError } from "./GatewayError.ts"
import { keyMatches } from "./internal/Middleware.ts"

/** The authenticated caller of a request. */
export interface CallerShape {
  /** `anonymous`, `admin` or `key:<sha256 prefix>` */
  readonly id: string
  readonly admin: boolean
  /** A tenant: partitions the response cache and labels telemetry (none by default). */
  readonly tenant?: string | undefined
  /**
   * The caller's RBAC roles (`Rbac` role names), checked against each route's `RequiredPermission`. Absent: `admin`
   * when `admin` is true, else `api_user` (what a caller could do before roles existed).
   */
  readonly roles?: ReadonlyArray<string> | undefined
  /** The principal id behind the caller (an issued key's principal), for rules on one's own resources. */
  readonly principal?: string | undefined
  /**
   * Budget scopes every LLM call of this caller is charged to, beside its tenant's and user's (an issued key's
   * `key:<id>`, see `GatewayKeyAuth`); passed as the call's `options.budgets`.
   */
  readonly budgets?: ReadonlyArray<string> | undefined
}

/** The authenticated caller of the current request (provided by the auth middleware). */
export class Caller extends Context.Service<Caller, CallerShape>()("troupe/gateway/Caller") {}

/** Bearer auth of the OpenAI-compatible routes. */
export class ApiAuth extends HttpApiMiddleware.Service<ApiAuth, { provides: Caller }>()("troupe/gateway/ApiAuth", {
  security: { bearer: HttpApiSecurity.bearer }
}) {}

/** Bearer auth of the admin API. */
export class AdminAuth
  extends HttpApiMiddleware.Service<AdminAuth, { provides: Caller }>()("troupe/gateway/AdminAuth", {
    security: { bearer: HttpApiSecurity.bearer }
  })
{}

const idOf = (key: string): string => `key:${createHash("sha256").update(key).digest("hex").slice(0, 12)}`

const unauthorized = (message: string) =>
  Effect.succeed(errorResponse(httpError(401, "invalid_request_error", message, { code: "invalid_api_key" }), {
    "www-authenticate": "Bearer"
  }))
const forbidden = (message: string) =>
  Effect.succeed(errorResponse(httpError(403, "permission_denied", message, { code: "forbidden" })))

type Auth = GatewaySection["auth"]

const adminRoles: ReadonlyArray<string> = ["admin"]
const apiRoles: ReadonlyArray<string> = ["api_user"]

/** The roles of a caller (`roles`, else `admin` for an admin caller, else `api_user`). */
export const rolesOf = (caller: CallerShape): ReadonlyArray<string> =>
  caller.roles ?? (caller.admin ? adminRoles : apiRoles)

/** The built-in checks over a live view of `gateway.auth`. */
export const makeKeyAuth = (auth: () => Auth) => ({
  api: ApiAuth.of({
    bearer: (effect, { credential }) => {
      const settings = auth()
      const key = Redacted.value(credential)
      const admin = settings.adminKey !== undefined && key !== "" && keyMatches(key, settings.adminKey)
      if (settings.apiKeys.length === 0) {
        return Effect.provideService(effect, Caller, {
          id: admin ? "admin" : "anonymous",
          admin,
          roles: admin ? adminRoles : apiRoles
        })
      }
      if (admin) return Effect.provideService(effect, Caller, { id: "admin", admin: true, roles: adminRoles })
      if (key !== "" && settings.apiKeys.some((k) => keyMatches(key, k))) {
        return Effect.provideService(effect, Caller, { id: idOf(key), admin: false, roles: apiRoles })
      }
      return unauthorized(
        key === "" ? "Missing API key: send Authorization: Bearer <key>." : "Incorrect API key provided."
      )
    }
  }),
  admin: AdminAuth.of({
    bearer: (effect, { credential }) => {
      const settings = auth()
      if (settings.adminKey === undefined) {
        return forbidden("The admin API is disabled: no gateway.auth.adminKey is configured.")
      }
      const key = Redacted.value(credential)
      if (key === "") return unauthorized("Missing admin key: send Authorization: Bearer <key>.")
      if (keyMatches(key, settings.adminKey)) {
        return Effect.provideService(effect, Caller, { id: "admin", admin: true, roles: adminRoles })
      }
      if (settings.apiKeys.some((k) => keyMatches(key, k))) return forbidden("This key may not use the admin API.")
      return unauthorized("Incorrect admin key provided.")
    }
  })
})

/** `ApiAuth` and `AdminAuth` over a live view of `gateway.auth` (what `Gateway.layer` uses unless given others). */
export const layerKeys = (auth: () => Auth): Layer.Layer<ApiAuth | AdminAuth> => {
  const { admin, api } = makeKeyAuth(auth)
  return Layer.succeedContext(Context.make(ApiAuth, api).pipe(Context.add(AdminAuth, admin)))
}
