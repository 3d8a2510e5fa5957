/**
 * `validateConfig`: decodes a raw configuration candidate and reports *every* problem at once, each with its path.
 *
 * Two passes that always both run, so one broken field never hides another:
 * 1. structure — the `TroupeConfig` Schema decoded with `{ errors: "all", onExcessProperty: "error" }`: required
 *    fields, types, ranges, URLs, unknown keys (typos);
 * 2. meaning — API-key formats per built-in provider (OpenAI `sk-…` but not `sk-ant-…`, Anthropic `sk-ant-…`,
 *    Google `AIza…`, Groq `gsk_…`, xAI `xai-…`; other providers are not checked) and model aliases (every alias
 *    must resolve: no cycles, no unknown aliases, no unconfigured providers).
 * Messages are finally scrubbed of any secret text (`SecretMasking.scrub`).
 *
 * Reuses Effect's Schema decoding and its Standard Schema issue formatter; the semantic checks are hand-rolled
 * because they relate a field to its key (the provider name) or to other entries (alias chains).
 */
import { Effect, Redacted, Result, Schema, SchemaIssue } from "effect"
import * as Invalid from "../internal/InvalidInput.ts"
import type { ConfigIssue } from "./ConfigError.ts"
import { ConfigValidationError } from "./ConfigError.ts"
import type { ModelAlias } from "./ModelConfig.ts"
import { ModelAlias as ModelAliasSchema } from "./ModelConfig.ts"
import { modelAliasIssues } from "./ModelResolution.ts"
import { KnownProviders } from "./ProviderConfig.ts"
import { isRawObject, scanTree } from "./RawTree.ts"
import { collectSecrets, isSecretPath, scrub, wrapSecrets } from "./SecretMasking.ts"
import { TroupeConfig } from "./TroupeConfig.ts"

const decodeConfig = Schema.decodeUnknownResult(TroupeConfig)
const decodeAlias = Schema.decodeUnknownResult(ModelAliasSchema)
const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

const pathSegment = (segment: PropertyKey | { readonly key: PropertyKey }): string | number => {
  const key = typeof segment === "object" ? segment.key : segment
  return typeof key === "number" ? key : String(key)
}

const structuralIssues = (issue: SchemaIssue.Issue): Array<ConfigIssue> =>
  formatter(issue).issues.map((i) => {
    const path = (i.path ?? []).map(pathSegment)
    // a non-string secret fails inside its Redacted wrapper, at `<secret path>.value`: report it at the field
    if (path.at(-1) === "value" && isSecretPath(path.slice(0, -1).map(String))) {
      return { path: Invalid.formatPath(path.slice(0, -1)), message: "Expected a string (value not shown)" }
    }
    return { path: Invalid.formatPath(path), message: i.message }
  })

/** The format problem of an API key for a built-in provider, if any (never mentions the key itself). */
export const apiKeyFormatProblem = (provider: string, key: string): string | undefined => {
  const known = KnownProviders.get(provider)
  if (known === undefined) return undefined
  if (/\s/.test(key)) return `${known.label} API key contains whitespace`
  if (known.keyPrefix !== undefined && !key.startsWith(known.keyPrefix)) {
    return `${known.label} API keys start with "${known.keyPrefix}"`
  }
  const foreign = known.foreignPrefixes?.find((prefix) => key.startsWith(prefix))
  if (foreign !== undefined) return `this looks like another provider's key ("${foreign}…"), not a ${known.label} key`
  return undefined
}

const apiKeyIssues = (providers: unknown): Array<ConfigIssue> => {
  if (!isRawObject(providers)) return []
  const issues: Array<ConfigIssue> = []
  for (const [name, entry] of Object.entries(providers)) {
    const apiKey = isRawObject(entry) ? entry.apiKey : undefined
    if (!Redacted.isRedacted(apiKey)) continue
    const key = Redacted.value(apiKey)
    if (typeof key !== "string") continue
    const problem = apiKeyFormatProblem(name, key)
    if (problem !== undefined) issues.push({ path: `providers.${name}.apiKey`, message: problem })
  }
  return issues
}

const aliasIssues = (models: unknown, providers: unknown): Array<ConfigIssue> => {
  if (!isRawObject(models)) return []
  // best effort: check the aliases that are individually well-formed; the others already have structural issues
  const aliases: { [alias: string]: ModelAlias } = {}
  for (const [alias, entry] of Object.entries(models)) {
    const decoded = decodeAlias(entry)
    if (Result.isSuccess(decoded)) aliases[alias] = decoded.success
  }
  const providerNames = new Set(isRawObject(providers) ? Object.keys(providers) : [])
  return modelAliasIssues(aliases, providerNames)
}

const dedupeAndSort = (issues: ReadonlyArray<ConfigIssue>): Array<ConfigIssue> => {
  const seen = new Set<string>()
  const out: Array<ConfigIssue> = []
  for (const issue of issues) {
    const key = `${issue.path}\u0000${issue.message}`
    if (!seen.has(key)) {
      seen.add(key)
      out.push(issue)
    }
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
}

/**
 * Validates a raw candidate (plain JSON-like object; secrets may be plain strings or `Redacted`). Returns the
 * decoded configuration, or every issue found.
 */
export const validateConfigResult = (
  candidate: unknown,
  operation = "validate"
): Result.Result<TroupeConfig, ConfigValidationError> => {
  // reserved keys and hostile nesting first, without recursion (every later pass walks the tree recursively)
  const hostile = scanTree(candidate)
  if (hostile !== undefined) return Result.fail(new ConfigValidationError({ operation, issues: [hostile] }))
  const wrapped = wrapSecrets(candidate)
  const decoded = decodeConfig(wrapped, { errors: "all", onExcessProperty: "error" })
  const issues: Array<ConfigIssue> = Result.isFailure(decoded) ? structuralIssues(decoded.failure.issue) : []
  if (isRawObject(wrapped)) {
    issues.push(...apiKeyIssues(wrapped.providers), ...aliasIssues(wrapped.models, wrapped.providers))
  }
  if (issues.length === 0 && Result.isSuccess(decoded)) return Result.succeed(decoded.success)
  const secrets = collectSecrets(wrapped)
  const clean = dedupeAndSort(issues).map((i) => ({ path: scrub(i.path, secrets), message: scrub(i.message, secrets) }))
  return Result.fail(new ConfigValidationError({ operation, issues: clean }))
}

/**
 * Validates a complete configuration candidate and reports all errors at once with their paths.
 *
 * @example
 * ```ts
 * const exit = await Effect.runPromiseExit(validateConfig({ providers: { openai: { apiKey: "nope" } } }))
 * // ConfigValidationError: providers.openai.apiKey: OpenAI API keys start with "sk-"
 * //                        providers.openai.baseUrl: Missing key
 * ```
 */
export const validateConfig = (candidate: unknown): Effect.Effect<TroupeConfig, ConfigValidationError> =>
  Effect.suspend(() => Effect.fromResult(validateConfigResult(candidate)))
