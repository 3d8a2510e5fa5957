/**
 * troupe's configuration subsystem: one Schema for the whole configuration, layered sources (defaults < JSON file
 * < environment < runtime updates), atomic validated updates, live reload, a change stream, model-alias
 * resolution, and secrets that never print.
 */
export * from "./ConfigError.ts"
export * from "./ConfigEvents.ts"
export type { SourceLayers } from "./ConfigSources.ts"
export * from "./ConfigStore.ts"
export { apiKeyFormatProblem, validateConfig, validateConfigResult } from "./ConfigValidation.ts"
export { configPathFromEnv, readEnvLayer } from "./EnvSource.ts"
export type { EnvLayer } from "./EnvSource.ts"
export { readConfigFile } from "./FileSource.ts"
export * from "./GatewayConfig.ts"
export * from "./ModelConfig.ts"
export { buildModelTable, MAX_ALIAS_CHAIN, MAX_MODEL_ALIASES, parseModelSpec, resolveModel } from "./ModelResolution.ts"
export type { ModelAliases, ModelTable } from "./ModelResolution.ts"
export * from "./ProviderConfig.ts"
export { policiesOf, RateLimiterConfigSync, touchesRateLimits } from "./RateLimiterConfigSync.ts"
export type { PolicySink } from "./RateLimiterConfigSync.ts"
export { RateLimitPolicy } from "./RateLimitPolicyRef.ts"
export type { ConfigPath, RawObject } from "./RawTree.ts"
export { isSecretPath } from "./SecretMasking.ts"
export * from "./TroupeConfig.ts"
