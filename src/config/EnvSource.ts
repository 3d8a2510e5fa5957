/**
 * The environment as a configuration source, read through an Effect `ConfigProvider`.
 *
 * Two kinds of variables, lowest to highest:
 * 1. the providers' usual variables — `OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, `GOOGLE_API_KEY` (then
 *    `GEMINI_API_KEY`), `MISTRAL_API_KEY`, `GROQ_API_KEY`, `DEEPSEEK_API_KEY`, `XAI_API_KEY`, and
 *    `<PROVIDER>_BASE_URL` for each built-in provider (`OPENAI_BASE_URL`, `OLLAMA_BASE_URL`, …);
 * 2. `TROUPE_…` overrides for any field: strip `TROUPE_`, split the rest on `__` (double underscore) into path
 *    segments. Each segment is matched case-insensitively, ignoring `_`, `-` and `.`, against the schema's field
 *    names (`MAX_RETRIES` → `maxRetries`) or, inside records (provider names, model aliases, rate-limit keys,
 *    headers), against the keys already configured by lower sources; a new record key is the segment lowercased.
 *    Values are coerced by the schema's type at that path (number, boolean — a boolean or number literal, alone or
 *    in a union such as `gateway.cors: false | {...}`, counts as one; objects and arrays as JSON text).
 *    Examples: `TROUPE_PROVIDERS__OPENAI__TIMEOUT=30000`, `TROUPE_PROVIDERS__OPENAI__POOL__KEEP_ALIVE=false`,
 *    `TROUPE_MODELS__FAST=groq:llama-3.1-8b-instant`,
 *    `TROUPE_PROVIDERS__MY_PROXY__BASE_URL=https://proxy.internal/v1` (a new OpenAI-compatible provider `my_proxy`),
 *    `TROUPE_RATE_LIMITS__SEARCH={"limit":5,"windowMillis":1000}`, and headers (whose names contain `-`) as JSON:
 *    `TROUPE_PROVIDERS__OPENAI__HEADERS={"OpenAI-Organization":"org-1"}`.
 * `TROUPE_CONFIG` is not an override: it names the JSON config file.
 *
 * Built on `ConfigProvider`: well-known variables are read with `Config.Redacted` / `Config.String`, and the
 * `TROUPE` subtree is discovered by walking the provider's nodes (`ConfigProvider.fromEnv` splits names on `_`),
 * so any provider with key discovery works (`fromEnv({ env })` in tests, `fromDotEnvContents`, …).
 * The schema-directed path mapping and coercion are hand-rolled over `SchemaAST` (Effect's `constantCase` only maps
 * the other way, and cannot know user-defined record keys).
 */
import type { ConfigProvider } from "effect"
import { Config, Effect, Option, SchemaAST } from "effect"
import { ConfigSourceError } from "./ConfigError.ts"
import { KnownProviders } from "./ProviderConfig.ts"
import type { ConfigPath, RawObject } from "./RawTree.ts"
import { getAt, isRawObject, setAt } from "./RawTree.ts"
import { TroupeConfig } from "./TroupeConfig.ts"

/** What the environment contributed. */
export interface EnvLayer {
  readonly tree: RawObject
  /** Names of the variables that were applied (never their values). */
  readonly variables: ReadonlyArray<string>
}

const toSourceError = (name: string) => (error: unknown) =>
  new ConfigSourceError({
    source: "env",
    location: name,
    reason: error instanceof Error ? error.constructor.name : "unreadable"
  })

const readOptional = <A>(config: Config.Config<A>, provider: ConfigProvider.ConfigProvider, name: string) =>
  Config.option(config).parse(provider).pipe(Effect.mapError(toSourceError(name)))

/** The config file path named by `TROUPE_CONFIG`, if set. */
export const configPathFromEnv = (provider: ConfigProvider.ConfigProvider) =>
  readOptional(Config.String("TROUPE_CONFIG"), provider, "TROUPE_CONFIG").pipe(Effect.map(Option.getOrUndefined))

/** Collects every `(name, value)` under the `TROUPE_` prefix by walking the provider's nodes. */
const troupeVariables = (provider: ConfigProvider.ConfigProvider) => {
  const out: Array<readonly [string, string]> = []
  const walk = (path: ReadonlyArray<string | number>): Effect.Effect<void, ConfigSourceError> =>
    Effect.gen(function*() {
      const node = yield* provider.load(path).pipe(Effect.mapError(toSourceError(path.join("_"))))
      if (node === undefined) return
      if (node.value !== undefined && path.length > 1) out.push([path.join("_"), node.value])
      if (node._tag === "Record") { for (const key of node.keys) yield* walk([...path, key]) }
      if (node._tag === "Array") { for (let i = 0; i < node.length; i++) yield* walk([...path, i]) }
    })
  return walk(["TROUPE"]).pipe(Effect.as(out))
}

const normalize = (s: string): string => s.toLowerCase().replace(/[-_.]/g, "")

const unwrapUnion = (ast: SchemaAST.AST): ReadonlyArray<SchemaAST.AST> => {
  if (ast._tag === "Union") return ast.types.flatMap(unwrapUnion)
  if (ast._tag === "Suspend") return unwrapUnion(ast.thunk())
  return ast._tag === "Undefined" || ast._tag === "Null" ? [] : [ast]
}

/** Maps SCREAMING segments to a config path, following the encoded schema; returns the leaf's AST if known. */
const mapSegments = (
  segments: ReadonlyArray<string>,
  base: RawObject
): { readonly path: ConfigPath; readonly leaf: ReadonlyArray<SchemaAST.AST> } => {
  const path: Array<string> = []
  let members: ReadonlyArray<SchemaAST.AST> = unwrapUnion(SchemaAST.toEncoded(TroupeConfig.ast))
  for (const segment of segments) {
    const objects = members.filter((m): m is SchemaAST.Objects => m._tag === "Objects")
    const wanted = normalize(segment)
    const property = objects.flatMap((o) => o.propertySignatures).find((p) => normalize(String(p.name)) === wanted)
    if (property !== undefined) {
      path.push(String(property.name))
      members = unwrapUnion(property.type)
      continue
    }
    const record = objects.flatMap((o) => o.indexSignatures)[0]
    const existing = getAt(base, path)
    const known = isRawObject(existing) ? Object.keys(existing).find((k) => normalize(k) === wanted) : undefined
    path.push(known ?? segment.toLowerCase())
    members = record !== undefined ? unwrapUnion(record.type) : []
  }
  return { path, leaf: members }
}

/** The type tag a member stands for when coercing: a boolean or number literal counts as `Boolean` / `Number`. */
const coercionTag = (member: SchemaAST.AST): string => {
  if (member._tag !== "Literal") return member._tag
  return typeof member.literal === "boolean" ? "Boolean" : typeof member.literal === "number" ? "Number" : "Literal"
}

/**
 * Coerces an environment string to the type the schema expects at that path; literal members count by their type
 * (`gateway.cors` is `false | {...}`, so `TROUPE_GATEWAY__CORS=false` is the boolean `false`).
 */
const coerce = (raw: string, leaf: ReadonlyArray<SchemaAST.AST>): unknown => {
  const tags = new Set(leaf.map(coercionTag))
  const trimmed = raw.trim()
  if (tags.has("Number") && trimmed !== "" && Number.isFinite(Number(trimmed))) return Number(trimmed)
  if (tags.has("Boolean") && /^(true|false)$/i.test(trimmed)) return trimmed.toLowerCase() === "true"
  if ((tags.has("Objects") || tags.has("Arrays") || tags.has("Unknown")) && /^[[{]/.test(trimmed)) {
    try {
      return JSON.parse(trimmed)
    } catch {
      return raw // left as a string: validation reports the type error at this path
    }
  }
  return raw
}

/**
 * Reads the environment layer. `base` is what the lower sources (defaults, file) configured; it is used only to
 * match record keys (`TROUPE_PROVIDERS__MY_PROXY__…` → an existing `my-proxy` provider). Fails with
 * `ConfigSourceError` (`source: "env"`, the variable or path as `location`) when the `ConfigProvider` fails to
 * load a variable or a node of the `TROUPE` subtree; an unset variable is no error, and a value of the wrong type
 * is left for validation.
 */
export const readEnvLayer = (
  provider: ConfigProvider.ConfigProvider,
  base: RawObject
): Effect.Effect<EnvLayer, ConfigSourceError> =>
  Effect.gen(function*() {
    let tree: RawObject = {}
    const variables: Array<string> = []
    for (const known of KnownProviders.values()) {
      for (const name of known.apiKeyEnv) { // highest priority first: GOOGLE_API_KEY before GEMINI_API_KEY
        const key = yield* readOptional(Config.Redacted(name), provider, name)
        if (Option.isSome(key)) {
          tree = setAt(tree, ["providers", known.name, "apiKey"], key.value)
          variables.push(name)
          break
        }
      }
      const baseUrl = yield* readOptional(Config.String(known.baseUrlEnv), provider, known.baseUrlEnv)
      if (Option.isSome(baseUrl)) {
        tree = setAt(tree, ["providers", known.name, "baseUrl"], baseUrl.value)
        variables.push(known.baseUrlEnv)
      }
    }
    for (const [name, raw] of yield* troupeVariables(provider)) {
      const rest = name.slice("TROUPE_".length)
      if (rest === "CONFIG") continue
      const segments = rest.split("__")
      if (segments.some((s) => s === "")) continue // not a well-formed override name
      const { leaf, path } = mapSegments(segments, base)
      tree = setAt(tree, path, coerce(raw, leaf))
      variables.push(name)
    }
    return { tree, variables }
  })
