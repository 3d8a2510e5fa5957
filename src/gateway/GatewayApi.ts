/**
 * The gateway's HTTP API as an effect `HttpApi` — its contract and its OpenAPI document (`/openapi.json`):
 *
 * - `openai`: `POST /v1/chat/completions` (JSON, or SSE with `stream: true`), `POST /v1/embeddings`,
 *   `GET /v1/models`; behind `ApiAuth`, decode errors in OpenAI's format (`OpenAiErrors`);
 * - `health`: `GET /health/live`, `/health/ready`, `/health/startup` (no auth; 200 or 503 with a JSON body);
 * - `admin`: `GET|PATCH /admin/config`, `GET /admin/supervision`, `GET /admin/stats`,
 *   `GET|POST /admin/maintenance`; behind `AdminAuth`;
 * - `errors` (`ErrorsApi.ts`): `GET /admin/errors` (error aggregates, trends, impact).
 * - `observer` (`ObserverApi.ts`): `GET /admin/events` (SSE), `POST /admin/supervision/{path}/restart|stop`.
 * - `costs` (`CostsApi.ts`): `GET /costs/stats`, `/costs/usage/{user}`, `/costs/forecast`, `GET|POST /costs/budget`.
 * - `access` (`AccessApi.ts`): issued keys, abuse blocks and the abuse policy under `/admin/keys`, `/admin/blocks`.
 * - `audit` (`AuditApi.ts`): `GET /admin/audit`, `/admin/audit/verify`, `/admin/audit/export` (query, verify, export).
 * - `privacy` (`PrivacyApi.ts`): `POST /admin/privacy/erase` (GDPR erasure of a subject).
 *
 * Every group declares the RBAC permission of its routes: `.annotate(RequiredPermission, "<permission>")` at the
 * end of its `HttpApiGroup.make(...)` chain (`PublicRoute` for open routes; see RoutePermission.ts);
 * test/gateway/RoutePermission.test.ts fails for any route of `GatewayApi` that lacks one, and `Gateway.layer`
 * enforces them against the caller's roles (`RoutePermission.enforce`; test/gateway/RouteEnforcement.test.ts).
 *
 * Inputs are decoded strictly: on every route but the `openai` group's, a query parameter or body field the route
 * does not declare is a 400 naming it (`onExcessProperty: "error"`, set on the whole API, so a group added later is
 * strict too), never silently dropped; the OpenAI bodies accept and ignore unknown fields, as OpenAI-compatible
 * proxies do. Headers are never strict.
 *
 * `/metrics` is a plain router route beside the API (Prometheus text is not JSON). Handlers live in `internal/`.
 *
 * @since 0.1.0
 */
import { Effect, Layer, Schema } from "effect"
import { Sse } from "effect/encoding"
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiMiddleware, HttpApiSchema } from "effect/http-api"
import { AccessGroup } from "./AccessApi.ts"
import { AuditGroup } from "./AuditApi.ts"
import { CostsGroup } from "./CostsApi.ts"
import { DlqGroup } from "./DlqApi.ts"
import { ErrorsGroup } from "./ErrorsApi.ts"
import { AdminAuth, ApiAuth } from "./GatewayAuth.ts"
import { fromSchemaIssue, internalError } from "./GatewayError.ts"
import { ObserverGroup } from "./ObserverApi.ts"
import { ChatCompletion, ChatCompletionRequest, EmbeddingList, EmbeddingsRequest, ModelList } from "./OpenAiSchema.ts"
import { PrivacyGroup } from "./PrivacyApi.ts"
import { PublicRoute, RequiredPermission } from "./RoutePermission.ts"
import { RunsGroup } from "./RunsApi.ts"

/** Turns HttpApi's request-decoding errors into OpenAI-format 400s naming the path. */
export class OpenAiErrors extends HttpApiMiddleware.Service<OpenAiErrors>()("troupe/gateway/OpenAiErrors") {}

/** The layer of `OpenAiErrors`. */
export const layerOpenAiErrors: Layer.Layer<OpenAiErrors> = HttpApiMiddleware.layerSchemaErrorTransform(
  OpenAiErrors,
  (error) =>
    error.kind === "Body" || error.kind === "ResponseHeaders"
      ? Effect.succeed(internalError.toResponse())
      : Effect.succeed(
        fromSchemaIssue(error.cause.issue, error.kind === "Payload" ? undefined : error.kind.toLowerCase()).toResponse()
      )
)

const Json = Schema.Unknown

/** The OpenAI-compatible endpoints: chat completions (JSON or SSE), embeddings, models. */
export class OpenAiGroup extends HttpApiGroup.make("openai")
  .add(HttpApiEndpoint.post("chat", "/v1/chat/completions", {
    payload: ChatCompletionRequest,
    success: [ChatCompletion, HttpApiSchema.StreamSse({ events: Sse.EventEncoded })]
  }))
  .add(HttpApiEndpoint.post("embeddings", "/v1/embeddings", { payload: EmbeddingsRequest, success: EmbeddingList }))
  .add(HttpApiEndpoint.get("models", "/v1/models", { success: ModelList }))
  .middleware(ApiAuth)
  .middleware(OpenAiErrors)
  .annotate(RequiredPermission, "agent:use:*")
  // OpenAI clients send fields troupe does not know (as LiteLLM's `drop_params`): accepted and ignored here only
  .annotate(HttpApi.QueryParseOptions, { onExcessProperty: "ignore" })
  .annotate(HttpApi.PayloadParseOptions, { onExcessProperty: "ignore" })
{}

/** The Kubernetes probes: `/health/live`, `/health/ready`, `/health/startup`. */
export class HealthGroup extends HttpApiGroup.make("health")
  .add(HttpApiEndpoint.get("live", "/health/live", { success: Json }))
  .add(HttpApiEndpoint.get("ready", "/health/ready", { success: Json }))
  .add(HttpApiEndpoint.get("startup", "/health/startup", { success: Json }))
  .annotate(RequiredPermission, PublicRoute)
{}

/** `POST /admin/maintenance` body: switch on or off, optionally with a message, status and retry-after. */
export const MaintenanceSwitch = Schema.Struct({
  enabled: Schema.Boolean,
  message: Schema.optional(Schema.String),
  status: Schema.optional(Schema.Int.check(Schema.isBetween({ minimum: 400, maximum: 599 }))),
  retryAfter: Schema.optional(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 86_400 }))),
  exemptRoutes: Schema.optional(Schema.Array(Schema.String.check(Schema.isPattern(/^\//))))
})

/** The admin API behind the admin credential: configuration, supervision tree, stats, maintenance. */
export class AdminGroup extends HttpApiGroup.make("admin")
  .add(HttpApiEndpoint.get("getConfig", "/admin/config", { success: Json }).annotate(RequiredPermission, "admin:read"))
  .add(
    HttpApiEndpoint.patch("patchConfig", "/admin/config", {
      payload: Schema.Record(Schema.String, Schema.Unknown),
      success: Json
    })
  )
  .add(
    HttpApiEndpoint.get("supervision", "/admin/supervision", { success: Json }).annotate(
      RequiredPermission,
      "admin:read"
    )
  )
  .add(HttpApiEndpoint.get("stats", "/admin/stats", { success: Json }).annotate(RequiredPermission, "admin:read"))
  .add(
    HttpApiEndpoint.get("getMaintenance", "/admin/maintenance", { success: Json }).annotate(
      RequiredPermission,
      "admin:read"
    )
  )
  .add(HttpApiEndpoint.post("setMaintenance", "/admin/maintenance", { payload: MaintenanceSwitch, success: Json }))
  .middleware(AdminAuth)
  .middleware(OpenAiErrors)
  .annotate(RequiredPermission, "gateway:admin")
{}

/** The whole API. */
export class GatewayApi extends HttpApi.make("troupe-gateway").add(OpenAiGroup).add(HealthGroup).add(AdminGroup)
  .add(ObserverGroup.middleware(OpenAiErrors))
  .add(ErrorsGroup.middleware(OpenAiErrors).annotate(RequiredPermission, "metrics:view"))
  // decoding errors as 400s naming the path (OpenAiErrors is defined here)
  .add(DlqGroup.middleware(OpenAiErrors))
  .add(CostsGroup)
  .add(AccessGroup.middleware(OpenAiErrors))
  .add(RunsGroup.middleware(OpenAiErrors).annotate(RequiredPermission, "gateway:admin"))
  .add(AuditGroup.middleware(OpenAiErrors))
  .add(PrivacyGroup.middleware(OpenAiErrors).annotate(RequiredPermission, "data:erase"))
  // every other group: an unknown query or body field is a 400 naming it, never silently dropped
  .annotate(HttpApi.QueryParseOptions, { onExcessProperty: "error" })
  .annotate(HttpApi.PayloadParseOptions, { onExcessProperty: "error" })
{}
