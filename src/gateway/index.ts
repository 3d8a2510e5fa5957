/**
 * troupe's HTTP gateway: `Gateway.layer` (OpenAI-compatible API over the `Llm` pipeline, health probes, metrics,
 * admin API, draining, maintenance), its auth middleware (`ApiAuth`, `AdminAuth`, `Caller`), readiness checks
 * (`HealthCheck`), the embeddings backend (`Embedder`), the HTTP contract (`GatewayApi`) and its errors.
 */
export { AccessGroup } from "./AccessApi.ts"
export { Embedder, hashEmbedding } from "./Embedder.ts"
export type { EmbedderShape, EmbeddingResult } from "./Embedder.ts"
export { Gateway } from "./Gateway.ts"
export type { GatewayAddress, GatewayOptions, GatewayRequirements, GatewayShape, Phase } from "./Gateway.ts"
export * as GatewayAgents from "./GatewayAgents.ts"
export {
  AdminGroup,
  GatewayApi,
  HealthGroup,
  layerOpenAiErrors,
  MaintenanceSwitch,
  OpenAiErrors,
  OpenAiGroup
} from "./GatewayApi.ts"
export { AdminAuth, ApiAuth, Caller, layerKeys, makeKeyAuth } from "./GatewayAuth.ts"
export type { CallerShape } from "./GatewayAuth.ts"
export {
  errorResponse,
  fromFailure,
  fromSchemaIssue,
  GatewayHttpError,
  httpError,
  toHttpError
} from "./GatewayError.ts"
export type { WirePaths } from "./GatewayError.ts"
export * as HealthCheck from "./HealthCheck.ts"
export { GatewayRouteContext } from "./internal/RouteContext.ts"
export type { GatewayRouteContextShape } from "./internal/RouteContext.ts"
export * from "./OpenAiSchema.ts"
export {
  allows,
  enforce,
  OwnAccess,
  permissionOf,
  PublicRoute,
  RequiredPermission,
  routePermissions
} from "./RoutePermission.ts"
export type { EnforceOptions, RoutePermission } from "./RoutePermission.ts"
