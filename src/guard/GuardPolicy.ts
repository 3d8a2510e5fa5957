/**
 * Guard policies: which scanners run at which **stage** (`input`: what the user sent; `document`: tool results and
 * retrieved text the model reads; `output`: the model's answer, streamed or not), with which threshold and which
 * **action** — `block` (fail with `GuardBlocked`), `redact` (mask secrets, anonymise PII, remove unsafe sentences,
 * withhold an injected text) or `log` (only the telemetry event).
 *
 * Policies are data, decoded with Schema (`decodeGuardPolicies`, failing with `InvalidGuardOptions` naming the path;
 * every regex is compiled during decoding). A policy is chosen per call from its **scope**: `default`, then the
 * `routes` entry of the requested model, the `keys` entry of the caller's key (the call's `user`), the `tenants`
 * entry and the `agents` entry — later ones override earlier ones scanner by scanner, field by field, and `false`
 * switches a scanner off.
 *
 * Defaults: sanitise every stage; injection `block` at 0.5 on `input` and `document`; secrets `redact` on every stage;
 * PII `redact` with reversible placeholders on `input` (de-anonymised in the answer); content `block` at 0.5 on
 * `output`.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import * as Invalid from "../internal/InvalidInput.ts"
import { InvalidGuardOptions } from "./GuardError.ts"

/** What a policy does when its scanner matches: block the request, redact the match, or only log the verdict. */
export const GuardAction = Schema.Literals(["block", "redact", "log"])
export type GuardAction = typeof GuardAction.Type
/** Where text is checked: the user's input, a document or tool result, or the model's output. */
export const GuardStage = Schema.Literals(["input", "document", "output"])
export type GuardStage = typeof GuardStage.Type

const Regex = Schema.String.check(Schema.makeFilter((s: string) => {
  try {
    new RegExp(s, "u")
    return true
  } catch (e) {
    return `Expected a valid regular expression: ${(e as Error).message}` // a SyntaxError from the RegExp constructor
  }
}))
const Unit = Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1 }))
const Stages = Schema.Array(GuardStage)

/** The Schema of an anonymisation `Operator` in a policy. */
export const OperatorSchema = Schema.Union([
  Schema.Struct({ type: Schema.Literal("replace"), with: Schema.optionalKey(Schema.String) }),
  Schema.Struct({
    type: Schema.Literal("mask"),
    char: Schema.optionalKey(Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(1))),
    keepLast: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 64 })))
  }),
  Schema.Struct({ type: Schema.Literal("hash"), salt: Schema.String.check(Schema.isMinLength(8)) }),
  Schema.Struct({ type: Schema.Literal("encrypt"), key: Schema.String.check(Schema.isMinLength(16)) }),
  Schema.Struct({ type: Schema.Literal("placeholder") })
])

const base = {
  action: Schema.optionalKey(GuardAction),
  stages: Schema.optionalKey(Stages)
}

/** The prompt-injection part of a policy: action, stages and score threshold. */
export const InjectionPolicy = Schema.Struct({ ...base, threshold: Schema.optionalKey(Unit) })
/**
 * The PII part of a policy: action, stages, entity types, operator, de-anonymisation of the answer, and custom
 * recognizers (at most 64).
 */
export const PiiPolicy = Schema.Struct({
  ...base,
  entities: Schema.optionalKey(Schema.Array(Schema.String)),
  operator: Schema.optionalKey(OperatorSchema),
  /** Restore placeholders in the answer for the caller (default true with the `placeholder` operator). */
  deanonymize: Schema.optionalKey(Schema.Boolean),
  custom: Schema.optionalKey(
    Schema.Array(Schema.Struct({
      type: Schema.String.check(Schema.isPattern(/^[A-Z][A-Z0-9_]*$/)),
      pattern: Regex,
      context: Schema.optionalKey(Schema.Array(Schema.String)),
      score: Schema.optionalKey(Unit)
    })).check(Schema.isMaxLength(64))
  )
})
/** The secrets part of a policy: action and stages. */
export const SecretsPolicy = Schema.Struct({ ...base })
/** The content-safety part of a policy: action, stages, threshold and categories. */
export const ContentPolicy = Schema.Struct({
  ...base,
  threshold: Schema.optionalKey(Unit),
  categories: Schema.optionalKey(Schema.Array(Schema.String)),
  allow: Schema.optionalKey(Schema.Array(Schema.String)),
  rules: Schema.optionalKey(
    Schema.Array(Schema.Struct({
      id: Schema.String,
      category: Schema.String,
      pattern: Schema.optionalKey(Regex),
      keywords: Schema.optionalKey(Schema.Array(Schema.String.check(Schema.isMinLength(1)))),
      weight: Schema.optionalKey(Unit),
      allow: Schema.optionalKey(Schema.Array(Schema.String))
    })).check(Schema.isMaxLength(256))
  )
})

const Off = Schema.Literal(false)
/** One guard policy: which scanners run, at which stages, with which action; each part can be turned off. */
export const GuardPolicy = Schema.Struct({
  sanitize: Schema.optionalKey(Schema.Boolean),
  injection: Schema.optionalKey(Schema.Union([InjectionPolicy, Off])),
  pii: Schema.optionalKey(Schema.Union([PiiPolicy, Off])),
  secrets: Schema.optionalKey(Schema.Union([SecretsPolicy, Off])),
  content: Schema.optionalKey(Schema.Union([ContentPolicy, Off]))
})
export type GuardPolicy = typeof GuardPolicy.Type

const Table = Schema.Record(Schema.String, GuardPolicy)
/** Guard policies as data: a default and tables by route (model), key, tenant and agent. */
export const GuardPolicies = Schema.Struct({
  default: Schema.optionalKey(GuardPolicy),
  routes: Schema.optionalKey(Table),
  keys: Schema.optionalKey(Table),
  tenants: Schema.optionalKey(Table),
  agents: Schema.optionalKey(Table)
})
export type GuardPolicies = typeof GuardPolicies.Type
/** Guard policies as given (before defaults and checks): what `Guard.layer({ policies })` and the config take. */
export type GuardPoliciesInput = typeof GuardPolicies.Encoded

/** Who is calling: the requested model (route), the caller's key, tenant and agent. */
export interface GuardScope {
  readonly route?: string | undefined
  readonly key?: string | undefined
  readonly tenant?: string | undefined
  readonly agent?: string | undefined
}

type Injection = typeof InjectionPolicy.Type
type Pii = typeof PiiPolicy.Type
type Secrets = typeof SecretsPolicy.Type
type Content = typeof ContentPolicy.Type

/** A policy with every default filled in (`undefined`: the scanner is off). */
export interface ResolvedPolicy {
  readonly sanitize: boolean
  readonly injection: (Required<Pick<Injection, "action" | "stages" | "threshold">>) | undefined
  readonly pii: (Pii & Required<Pick<Pii, "action" | "stages" | "operator">>) | undefined
  readonly secrets: Required<Secrets> | undefined
  readonly content: (Content & Required<Pick<Content, "action" | "stages" | "threshold">>) | undefined
}

/**
 * The policy when none is configured: sanitise; block injections in input and documents; PII replaced by
 * placeholders in input; secrets redacted everywhere; unsafe content blocked in output.
 */
export const DEFAULT_POLICY: ResolvedPolicy = {
  sanitize: true,
  injection: { action: "block", stages: ["input", "document"], threshold: 0.5 },
  pii: { action: "redact", stages: ["input"], operator: { type: "placeholder" } },
  secrets: { action: "redact", stages: ["input", "document", "output"] },
  content: { action: "block", stages: ["output"], threshold: 0.5 }
}

const mergeOne = <A extends object>(
  current: A | undefined,
  next: Partial<A> | false | undefined,
  fallback: A
): A | undefined => {
  if (next === undefined) return current
  if (next === false) return undefined
  return { ...(current ?? fallback), ...next }
}

/** Merges `layers` over `base`, scanner by scanner. */
export const mergePolicies = (
  base: ResolvedPolicy,
  ...layers: ReadonlyArray<GuardPolicy | undefined>
): ResolvedPolicy => {
  let out = base
  for (const p of layers) {
    if (p === undefined) continue
    out = {
      sanitize: p.sanitize ?? out.sanitize,
      injection: mergeOne(out.injection, p.injection, DEFAULT_POLICY.injection!),
      pii: mergeOne(out.pii, p.pii, DEFAULT_POLICY.pii!),
      secrets: mergeOne(out.secrets, p.secrets, DEFAULT_POLICY.secrets!),
      content: mergeOne(out.content, p.content, DEFAULT_POLICY.content!)
    } as ResolvedPolicy // each field merged from a complete policy, so the required fields are present
  }
  return out
}

/** The policy for `scope`: default < route < key < tenant < agent. */
export const resolvePolicy = (policies: GuardPolicies, scope: GuardScope): ResolvedPolicy =>
  mergePolicies(
    DEFAULT_POLICY,
    policies.default,
    scope.route === undefined ? undefined : policies.routes?.[scope.route],
    scope.key === undefined ? undefined : policies.keys?.[scope.key],
    scope.tenant === undefined ? undefined : policies.tenants?.[scope.tenant],
    scope.agent === undefined ? undefined : policies.agents?.[scope.agent]
  )

/**
 * Decodes untrusted policies; fails with `InvalidGuardOptions` naming the first bad path (and every issue).
 *
 * @example
 * ```ts
 * const policies = yield* decodeGuardPolicies({ tenants: { acme: { pii: { action: "block" } } } })
 * ```
 */
export const decodeGuardPolicies = (input: unknown): Effect.Effect<GuardPolicies, InvalidGuardOptions> =>
  Schema.decodeUnknownEffect(GuardPolicies)(input, { errors: "all" }).pipe(
    Effect.mapError((e) => Invalid.fromSchemaError(e, "guard options", (f) => new InvalidGuardOptions(f)))
  )
