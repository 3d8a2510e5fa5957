/**
 * Issued keys at the gateway: `ApiAuth` / `AdminAuth` (src/gateway/GatewayAuth.ts) implemented over `Keys`, to pass
 * as `Gateway.layer({ auth })`. The routes are untouched.
 *
 * Rules:
 * - the key is read from `Authorization: Bearer <key>`, or, when that is absent, from `x-api-key`;
 * - 401 (`invalid_api_key`) for a missing, malformed, unknown, expired or revoked key, with one message per reason
 *   that never contains the key; 403 when the key lacks the scope the API requires (`apiScope`, default
 *   `gateway:use`; `*` and `gateway:*` grant it) — the admin API requires `adminScope` (default `gateway:admin`);
 * - on success the `Caller` is `key:<public id>` with the key's tenant (which partitions the response cache);
 * - with an `Audit` given, every decision is recorded (`auth.api` / `auth.admin`; `success` or `denied`, the key's
 *   public id or `anonymous`, IP and user agent, the reason in metadata); a refusal whose owner is unknown
 *   (missing, malformed, unknown key) is recorded under the tenant `_`. **The route's audit policy says whether the
 *   request waits for durability** (`auditPolicy`): by default an admin request proceeds only once its decision is
 *   durable in the log (`Audit.record`), an API request as soon as it is queued for the next batch
 *   (`Audit.submit`). **A decision about a key whose owner is known names its principal as the entry's
 *   `subject`** — an accepted key, a key refused for a missing scope, a block or a rate limit, and an expired or
 *   revoked key (its secret matched, so the owner is known) — so with a `SubjectKeys` store its IP, user agent and
 *   metadata are sealed under that principal's data key and `Privacy.erase` can shred them (Audit.ts). A refusal
 *   whose owner is unknown (missing, malformed or unknown key, a blocked IP before any key is read) has no subject:
 *   nothing ties it to a principal, so its IP and user agent stay readable (they are what abuse detection and an
 *   incident review need) and erasure cannot find them;
 * - a store failure is a 503, never a pass;
 * - with an `Abuse` detector given, a request from a blocked IP, or with a blocked key or principal, is refused
 *   with 403 (`blocked`) and a `retry-after` (seconds until the block ends), audited with the reason `blocked`;
 *   every 401 is reported as an `auth_failure` signal for the IP (and the key when its owner is known).
 *
 * - with a `limiter` given, an accepted key passes the per-key rate limits through the RateLimiter, multi-tier:
 *   the key's own `limits` (a policy registered as `key:<tenant>/<id>`), then the principal (`userPolicy`, key
 *   `<tenant>/user:<principal>`), then the IP (`ipPolicy`); keys carry the tenant, so tenants isolate limits; a
 *   refusal is a 429 with `retry-after`, audited (`rate_limited`) and reported to `abuse` as `rate_limited`.
 *
 * - **budgets from issued keys**: with `budgets` given, every call of an accepted key is charged to its budget scope
 *   (`key:<id>` of the first key of its rotation line, passed as the call's `options.budgets` through the `Caller`,
 *   so its costs are also tagged with the key); a key that carries a `budget` has it set on `Budgets` (limit and
 *   period; a change keeps the period's spend) the first time this process sees it and again whenever it changes
 *   — at most 100,000 keys remembered — and a budget store failure is a 503, never a pass. The pipeline's
 *   `BudgetStep` then refuses an over-budget call (`BudgetExceeded`, a 402).
 *
 * - RBAC roles of a key (data, no change to the stored record): each scope `role:<name>` gives the role `<name>`
 *   (`Rbac`'s role definitions say what it grants), and the `scopeRoles` table maps the coarse scopes (default:
 *   `*`, `gateway:*` and `gateway:admin` → `admin`, `gateway:use` → `api_user`); the `Caller` carries the roles
 *   and the key's principal, and `Gateway.layer` checks each route's `RequiredPermission` against them
 *   (`RoutePermission.enforce`); a key with a `role:` scope passes the coarse scope check above, so that its roles
 *   alone decide (a `role:viewer` key may read `/admin/stats` but not write `/admin/config`).
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Layer, Option, Redacted } from "effect"
import { HttpServerRequest, type HttpServerResponse } from "effect/http"
import type { BudgetsShape } from "../budget/Budgets.ts"
import { AdminAuth, ApiAuth, Caller } from "../gateway/GatewayAuth.ts"
import { errorResponse, httpError } from "../gateway/GatewayError.ts"
import { LruMap } from "../internal/LruMap.ts"
import type { RateLimiterShape } from "../ratelimit/RateLimiter.ts"
import type { AbuseShape, Block } from "./Abuse.ts"
import type { AuditShape } from "./Audit.ts"
import type { KeyRejectedReason } from "./IdentityError.ts"
import { hasScope, type KeysShape, type ValidatedKey } from "./Keys.ts"

/** Options of `GatewayKeyAuth`: the keys service, the audit log, and the scopes the API and the admin API require. */
export interface GatewayKeyAuthOptions {
  readonly keys: KeysShape
  readonly audit?: AuditShape
  readonly abuse?: AbuseShape
  readonly limiter?: RateLimiterShape
  /** Where issued keys' budgets are set and charged (see the module doc); none: keys' budgets are not enforced. */
  readonly budgets?: BudgetsShape
  /** Policy name (registered on the limiter) for the principal tier; none: no principal tier. */
  readonly userPolicy?: string
  /** Policy name for the IP tier; none: no IP tier. */
  readonly ipPolicy?: string
  readonly apiScope?: string
  readonly adminScope?: string
  /**
   * Whether a request waits until its audit entry is durable: `durable` (`Audit.record`) or `queued`
   * (`Audit.submit`). Default: `{ api: "queued", admin: "durable" }`.
   */
  readonly auditPolicy?: { readonly api?: "durable" | "queued"; readonly admin?: "durable" | "queued" }
  /** The roles each coarse scope gives (default `defaultScopeRoles`); `role:<name>` scopes always give `<name>`. */
  readonly scopeRoles?: Readonly<Record<string, ReadonlyArray<string>>>
}

/** The roles of the coarse scopes: `*`, `gateway:*`, `gateway:admin` → `admin`; `gateway:use` → `api_user`. */
export const defaultScopeRoles: Readonly<Record<string, ReadonlyArray<string>>> = {
  "*": ["admin"],
  "gateway:*": ["admin"],
  "gateway:admin": ["admin"],
  "gateway:use": ["api_user"]
}

/** The RBAC roles of a key's scopes: `role:<name>` → `<name>`, the rest through `scopeRoles`. */
export const rolesOfScopes = (
  scopes: ReadonlyArray<string>,
  scopeRoles: Readonly<Record<string, ReadonlyArray<string>>> = defaultScopeRoles
): ReadonlyArray<string> => {
  const roles = new Set<string>()
  for (const scope of scopes) {
    if (scope.startsWith("role:")) roles.add(scope.slice(5))
    else if (Object.hasOwn(scopeRoles, scope)) { for (const r of scopeRoles[scope]!) roles.add(r) }
  }
  return [...roles]
}

const messages: Record<KeyRejectedReason, string> = {
  missing: "Missing API key: send Authorization: Bearer <key> or x-api-key.",
  malformed: "Incorrect API key provided.",
  unknown: "Incorrect API key provided.",
  expired: "This API key has expired.",
  revoked: "This API key has been revoked."
}

const unauthorized = (message: string) =>
  errorResponse(httpError(401, "invalid_request_error", message, { code: "invalid_api_key" }), {
    "www-authenticate": "Bearer"
  })

/** Builds the gateway auth over `Keys` and `Audit`: every decision is audited. */
export const make = (options: GatewayKeyAuthOptions) => {
  const apiScope = options.apiScope ?? "gateway:use"
  const adminScope = options.adminScope ?? "gateway:admin"
  // per-key policies already given to the limiter, and budget scope → the budget last set on `budgets`: bounded
  // (least recently used dropped first; a dropped one is set again on its key's next request)
  const registered = new LruMap<string, true>(100_000)
  const synced = new LruMap<string, string>(100_000)

  const check = <E, R>(
    action: string,
    scope: string,
    credential: Redacted.Redacted<string>,
    effect: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
  ) =>
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const durable =
        (action === "auth.admin" ? options.auditPolicy?.admin ?? "durable" : options.auditPolicy?.api ?? "queued") ===
          "durable"
      const bearer = Redacted.value(credential)
      const key = bearer !== "" ? bearer : (request.headers["x-api-key"] ?? "")
      const ip = Option.getOrUndefined(request.remoteAddress ?? Option.none())
      const userAgent = request.headers["user-agent"]
      // `subject`: the principal of a validated key, so the entry's personal fields are sealed under its data key
      const record = (
        status: "success" | "denied",
        actor: string,
        tenant: string,
        reason: string,
        subject?: string
      ) =>
        options.audit === undefined
          ? Effect.void
          : (durable ? options.audit.record : options.audit.submit)({
            tenant,
            actor,
            action,
            resource: request.url.split("?")[0]!.slice(0, 512) || "/",
            status,
            ...(ip !== undefined && ip !== "" ? { ip: ip.slice(0, 64) } : {}),
            ...(userAgent !== undefined && userAgent !== "" ? { userAgent: userAgent.slice(0, 512) } : {}),
            metadata: { reason },
            ...(subject !== undefined ? { subject } : {})
          }).pipe(Effect.ignore)
      const abuse = options.abuse
      const blocked = (block: Block, actor: string, tenant: string, subject?: string) =>
        Effect.gen(function*() {
          yield* record("denied", actor, tenant, "blocked", subject)
          const now = yield* Clock.currentTimeMillis
          return errorResponse(
            httpError(403, "permission_denied", "Access is temporarily blocked.", { code: "blocked" }),
            { "retry-after": String(Math.max(1, Math.ceil((block.until - now) / 1000))) }
          )
        })
      if (abuse !== undefined) {
        const byIp = yield* abuse.check({ ip })
        if (Option.isSome(byIp)) return yield* blocked(byIp.value, "anonymous", "_")
      }
      const result = yield* Effect.result(options.keys.validate(key))
      if (result._tag === "Failure") {
        const error = result.failure
        if (error._tag === "IdentityStoreError") {
          return errorResponse(httpError(503, "server_error", "The key store is unavailable.", { code: "unavailable" }))
        }
        yield* record(
          "denied",
          error.keyId === undefined ? "anonymous" : `key:${error.keyId}`,
          error.tenant ?? "_",
          error.reason,
          error.tenant !== undefined ? error.principal : undefined
        )
        if (abuse !== undefined) yield* abuse.signal("auth_failure", { ip, key: error.keyId })
        return unauthorized(messages[error.reason])
      }
      const valid: ValidatedKey = result.success
      if (abuse !== undefined) {
        const byKey = yield* abuse.check({ key: valid.keyId, principal: `${valid.tenant}/${valid.principal.id}` })
        if (Option.isSome(byKey)) {
          return yield* blocked(byKey.value, `key:${valid.keyId}`, valid.tenant, valid.principal.id)
        }
      }
      const roles = rolesOfScopes(valid.scopes, options.scopeRoles)
      if (
        !hasScope(valid.scopes, scope) && !valid.scopes.some((s) => s.startsWith("role:"))
      ) {
        yield* record("denied", `key:${valid.keyId}`, valid.tenant, `missing scope ${scope}`, valid.principal.id)
        return errorResponse(
          httpError(403, "permission_denied", `This key lacks the scope ${scope}.`, { code: "forbidden" })
        )
      }
      const limiter = options.limiter
      if (limiter !== undefined) {
        const tiers: Array<readonly [string, string | undefined]> = []
        if (Option.isSome(valid.limits)) {
          const name = `key:${valid.tenant}/${valid.keyId}`
          let known = registered.get(name) === true
          if (!known) {
            const set = yield* Effect.result(limiter.setPolicy(name, valid.limits.value))
            if (set._tag === "Success") {
              registered.set(name, true)
              known = true
            }
          }
          if (known) tiers.push([`${valid.tenant}/key:${valid.keyId}`, name])
        }
        if (options.userPolicy !== undefined) {
          tiers.push([`${valid.tenant}/user:${valid.principal.id}`, options.userPolicy])
        }
        if (options.ipPolicy !== undefined && ip !== undefined && ip !== "") {
          tiers.push([`ip:${ip}`, options.ipPolicy])
        }
        for (const [limitKey, policy] of tiers) {
          const checked = yield* Effect.result(
            limiter.check(limitKey.slice(0, 200), policy === undefined ? {} : { policy })
          )
          if (checked._tag === "Success") continue
          const e = checked.failure
          if (e._tag !== "RateLimited") {
            return errorResponse(
              httpError(503, "server_error", "The rate limiter is unavailable.", { code: "unavailable" })
            )
          }
          yield* record("denied", `key:${valid.keyId}`, valid.tenant, "rate_limited", valid.principal.id)
          if (abuse !== undefined) {
            yield* abuse.signal("rate_limited", {
              ip,
              key: valid.keyId,
              principal: `${valid.tenant}/${valid.principal.id}`
            })
          }
          const seconds = Math.max(1, Math.ceil(e.retryAfterMillis / 1000))
          return errorResponse(
            httpError(429, "rate_limit_error", "Rate limit reached for this key.", {
              code: "rate_limit_exceeded",
              retryAfterSeconds: seconds
            }),
            { "retry-after": String(seconds) }
          )
        }
      }
      const budgets = options.budgets
      if (budgets !== undefined && Option.isSome(valid.budget)) {
        const { limitUsd, period } = valid.budget.value
        const spec = `${limitUsd}/${period}`
        if (synced.get(valid.budgetScope) !== spec) {
          const set = yield* Effect.result(budgets.set({ scope: valid.budgetScope, limit: limitUsd, period }))
          if (set._tag === "Failure") {
            return errorResponse(
              httpError(503, "server_error", "The budget store is unavailable.", { code: "unavailable" })
            )
          }
          synced.set(valid.budgetScope, spec)
        }
      }
      yield* record("success", `key:${valid.keyId}`, valid.tenant, "ok", valid.principal.id)
      return yield* Effect.provideService(effect, Caller, {
        id: `key:${valid.keyId}`,
        admin: roles.includes("admin"),
        tenant: valid.tenant,
        roles,
        principal: valid.principal.id,
        ...(budgets !== undefined ? { budgets: [valid.budgetScope] } : {})
      })
    })

  return {
    api: ApiAuth.of({ bearer: (effect, { credential }) => check("auth.api", apiScope, credential, effect) }),
    admin: AdminAuth.of({ bearer: (effect, { credential }) => check("auth.admin", adminScope, credential, effect) })
  }
}

/** `ApiAuth` and `AdminAuth` over issued keys: pass as `Gateway.layer({ auth: GatewayKeyAuth.layer({ keys }) })`. */
export const layer = (options: GatewayKeyAuthOptions): Layer.Layer<ApiAuth | AdminAuth> => {
  const { admin, api } = make(options)
  return Layer.succeedContext(Context.make(ApiAuth, api).pipe(Context.add(AdminAuth, admin)))
}
