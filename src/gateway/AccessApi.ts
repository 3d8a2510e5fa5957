/**
 * The access admin endpoints as an effect `HttpApiGroup` (behind `AdminAuth`), added to `GatewayApi`: issued keys
 * and abuse blocks, served when `Gateway.layer({ access: { keys, abuse } })` gives the services (404 otherwise).
 *
 * - `POST /admin/keys` (body: `Keys.create`'s input): creates a key and returns it ONCE (`key`), with its masked
 *   info; a bad body is a 400 naming the path;
 * - `GET /admin/keys?tenant=<t>&principal=<p>`: the tenant's keys, masked;
 * - `DELETE /admin/keys/{tenant}/{id}`: revokes; `POST /admin/keys/{tenant}/{id}/rotate?graceMs=<ms>`: rotates
 *   (the new key returned once); an unknown key is a 404;
 * - `GET /admin/blocks`: the active abuse blocks; `DELETE /admin/blocks/{kind}/{id}`: lifts one (404 when none);
 * - `GET /admin/abuse-policy` / `PUT /admin/abuse-policy`: reads / replaces the abuse policy live (400 naming the
 *   path when invalid).
 * The two bodies are checked against the encoded side of `Keys.CreateKeyInput` / `Abuse.AbusePolicy` by the
 * handlers first (an unknown field is a 400 naming it, as on every admin route), then decoded by `Keys.create` /
 * `Abuse.setPolicy`.
 * Blocks and lifts are audited by `Abuse` itself; key creation, revocation and rotation by the caller's audit
 * of the admin route (`auth.admin`).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import { AdminAuth } from "./GatewayAuth.ts"
import { RequiredPermission } from "./RoutePermission.ts"

const Json = Schema.Unknown
const Segment = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(256))

/** `{tenant}/{id}` of a key. */
export const KeyPath = Schema.Struct({ tenant: Segment, id: Segment })
/** `{kind}/{id}` of a block. */
export const BlockPath = Schema.Struct({ kind: Schema.Literals(["ip", "key", "principal"]), id: Segment })

/** The access group: key management and abuse blocks. */
export class AccessGroup extends HttpApiGroup.make("access")
  .add(HttpApiEndpoint.post("createKey", "/admin/keys", { payload: Json, success: Json }))
  .add(
    HttpApiEndpoint.get("listKeys", "/admin/keys", {
      query: Schema.Struct({ tenant: Segment, principal: Schema.optional(Segment) }),
      success: Json
    })
  )
  .add(HttpApiEndpoint.delete("revokeKey", "/admin/keys/:tenant/:id", { params: KeyPath, success: Json }))
  .add(HttpApiEndpoint.post("rotateKey", "/admin/keys/:tenant/:id/rotate", {
    params: KeyPath,
    query: Schema.Struct({
      graceMs: Schema.optional(
        Schema.NumberFromString.check(Schema.isInt(), Schema.isBetween({ minimum: 0, maximum: 30 * 86_400_000 }))
      )
    }),
    success: Json
  }))
  .add(HttpApiEndpoint.get("listBlocks", "/admin/blocks", { success: Json }).annotate(RequiredPermission, "admin:read"))
  .add(HttpApiEndpoint.delete("liftBlock", "/admin/blocks/:kind/:id", { params: BlockPath, success: Json }))
  .add(
    HttpApiEndpoint.get("getAbusePolicy", "/admin/abuse-policy", { success: Json }).annotate(
      RequiredPermission,
      "admin:read"
    )
  )
  .add(HttpApiEndpoint.put("setAbusePolicy", "/admin/abuse-policy", { payload: Json, success: Json }))
  .middleware(AdminAuth)
  .annotate(RequiredPermission, "users:manage")
{}
