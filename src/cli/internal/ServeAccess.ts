/**
 * The access services of `troupe serve` and the gateway auth over them.
 *
 * Rules:
 * - Issued keys are `Keys` over an in-memory `KeyStore` (bounded by the store), with a random pepper drawn when the
 *   process starts: keys live as long as the process, also with `--database-url` (which holds costs, budgets and
 *   dead letters; a key table there would need a pepper that outlives the process, which serve does not take yet). Validations are cached
 *   (`Keys`' validation cache, 5 seconds): the store is this process's, so a revocation applies at once. Key decisions go to an
 *   in-memory `Audit` log (bounded), and an `Abuse` detector with the default policy blocks repeated auth failures;
 *   with Redis (`--redis-url`) the detector is `Abuse.makeRedis` under `<prefix>abuse:`, so **blocks are shared
 *   between the gateway processes on one Redis**; without it, per process.
 * - `/admin/*` accepts the configured `gateway.auth.adminKey` (the built-in check, `GatewayAuth`); with
 *   `gateway.auth.issuedKeys` on it also accepts an issued key with the `gateway:admin` scope (`GatewayKeyAuth`).
 * - `/v1/*` with `issuedKeys` off follows the built-in rules (open when no `apiKeys` are configured). With it on a
 *   key is required: the admin key or one of `apiKeys` (built-in), else an issued key with the `gateway:use` scope —
 *   a missing, unknown, revoked or expired key is a 401, a key without the scope a 403, and blocks apply.
 * - An issued key's budget is enforced: with `Budgets` in the application (serve turns it on), every call of the key
 *   is charged to its budget scope and the key's `budget` is set there (`GatewayKeyAuth`'s "budgets from issued
 *   keys").
 * - GDPR erasure (`POST /admin/privacy/erase`, `Privacy`) runs over the same in-memory stores: the audit entries
 *   of a validated key's principal are sealed under a per-subject data key (`SubjectKeys` in memory, wrapped under a
 *   random master key drawn when the process starts, like the pepper), so erasing a principal shreds them and
 *   deletes its keys.
 * - `gateway.auth` is read live: switching `issuedKeys` or changing the keys applies to the next request.
 *
 * Reuses `GatewayAuth.makeKeyAuth` and `GatewayKeyAuth.make` (the composite only chooses which one decides).
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Option, Redacted, type Scope, Stream } from "effect"
import { randomBytes } from "node:crypto"
import { Budgets } from "../../budget/index.ts"
import type { GatewaySection } from "../../config/index.ts"
import { ConfigStore } from "../../config/index.ts"
import { AdminAuth, ApiAuth, makeKeyAuth } from "../../gateway/GatewayAuth.ts"
import type { AccessServices } from "../../gateway/internal/AccessHandlers.ts"
import { keyMatches } from "../../gateway/internal/Middleware.ts"
import {
  Abuse,
  Audit,
  AuditStore,
  GatewayKeyAuth,
  KeyProvider,
  Keys,
  KeyStore,
  Privacy,
  SubjectKeys
} from "../../identity/index.ts"

/** What `make` gives `Gateway.layer`: the auth layer and the services behind `/admin/keys` and `/admin/blocks`. */
export interface ServeAccess {
  readonly auth: Layer.Layer<ApiAuth | AdminAuth>
  readonly access: AccessServices
}

/**
 * Builds the access services and the composite auth over a live view of `gateway.auth` (scoped: the view's
 * subscription); with `redis`, the abuse detector keeps its blocks there. Never fails: the default policy is valid.
 */
export const make = (
  options: { readonly redis?: { readonly url: string; readonly prefix?: string } | undefined } = {}
): Effect.Effect<ServeAccess, never, ConfigStore | Scope.Scope> =>
  Effect.gen(function*() {
    const store = yield* ConfigStore
    let auth: GatewaySection["auth"] = (yield* store.get).gateway.auth
    const changes = yield* store.subscribe
    yield* Effect.forkScoped(Stream.runForEach(changes, (change) =>
      Effect.sync(() => {
        auth = change.config.gateway.auth
      })))

    const stores = Layer.mergeAll(
      KeyStore.layerMemory(),
      AuditStore.layerMemory(),
      SubjectKeys.layerMemory(),
      KeyProvider.layerStatic({ current: new Uint8Array(randomBytes(32)) })
    )
    const identity = Layer.mergeAll(
      Keys.layer({ pepper: Redacted.make(randomBytes(32).toString("base64url")), cache: {} }),
      Audit.layer
    ).pipe(Layer.provideMerge(stores))
    // the memory stores do not fail at start, and a random 32-byte master key is valid
    const built = yield* Layer.build(Privacy.layer.pipe(Layer.provideMerge(identity))).pipe(Effect.orDie)
    const keys = Context.get(built, Keys)
    const audit = Context.get(built, Audit)
    const privacy = Context.get(built, Privacy)
    const redis = options.redis
    const abuse = redis === undefined
      ? yield* Abuse.make({ audit }).pipe(Effect.orDie) // the default policy is valid
      : yield* Abuse.makeRedis({ audit, prefix: `${redis.prefix ?? "troupe:"}abuse:` }).pipe(
        // the client lives as long as serve's scope (built here, not provided per effect); node-redis is loaded
        // only when serve has Redis (importing this module must not load it)
        Effect.provideContext(
          yield* Layer.build(Layer.unwrap(Effect.map(
            Effect.promise(() => import("../../app/internal/ResilientRedis.ts")),
            (module) => module.layer(redis.url)
          )))
        ),
        Effect.orDie // the default policy is valid
      )
    const builtIn = makeKeyAuth(() => auth)
    const budgets = Option.getOrUndefined(yield* Effect.serviceOption(Budgets))
    const issued = GatewayKeyAuth.make({ keys, audit, abuse, ...(budgets !== undefined ? { budgets } : {}) })

    const configured = (key: string) =>
      key !== "" &&
      ((auth.adminKey !== undefined && keyMatches(key, auth.adminKey)) || auth.apiKeys.some((k) => keyMatches(key, k)))
    const isAdminKey = (key: string) => auth.adminKey !== undefined && key !== "" && keyMatches(key, auth.adminKey)

    const api = ApiAuth.of({
      bearer: (effect, options) =>
        !auth.issuedKeys || configured(Redacted.value(options.credential))
          ? builtIn.api.bearer(effect, options)
          : issued.api.bearer(effect, options)
    })
    const admin = AdminAuth.of({
      bearer: (effect, options) => {
        const key = Redacted.value(options.credential)
        return auth.issuedKeys && key.startsWith("tr_live_") && !isAdminKey(key)
          ? issued.admin.bearer(effect, options)
          : builtIn.admin.bearer(effect, options)
      }
    })
    return {
      auth: Layer.succeedContext(Context.make(ApiAuth, api).pipe(Context.add(AdminAuth, admin))),
      access: { keys, abuse, audit, privacy }
    }
  })
