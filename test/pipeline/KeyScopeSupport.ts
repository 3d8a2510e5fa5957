/**
 * Shared by the ResponseCacheStep and CoalesceStep key tests: a target and call context for keying, raw params as an
 * untrusted caller hands them, and the property that calls of different scopes (tenant, per-call API key) never share
 * a key whatever params they carry — also when the params spell out the victim's scope as it used to be keyed.
 */
import { Redacted } from "effect"
import * as fc from "fast-check"
import { hash } from "node:crypto"
import type { LlmRequest } from "../../src/llm/index.ts"
import type { CallContext, LlmCall, Target } from "../../src/pipeline/index.ts"
import { CallState } from "../../src/pipeline/index.ts"

export const target: Target = {
  provider: "primary",
  route: "primary",
  model: "model-a",
  spec: "primary:model-a",
  requested: "fast",
  defaults: {}
}

export const contextOf = (options?: LlmCall["options"]): CallContext => ({
  call: { model: "fast", messages: [{ role: "user", content: "secret plan" }], ...(options ? { options } : {}) },
  kind: "text",
  state: new CallState()
})

/** Params as a raw caller could hand them to the step (names outside `LlmParams`, as an HTTP body may carry). */
export const rawParams = (params: Record<string, unknown>): LlmRequest["params"] =>
  // the step's params type lists the known names only; the step must key any record without trusting its names
  params as LlmRequest["params"]

interface Scope {
  readonly tenant: string | undefined
  readonly apiKey: string | undefined
}

const scope: fc.Arbitrary<Scope> = fc.record({
  tenant: fc.option(fc.constantFrom("A", "B", "A\u0000", "null"), { nil: undefined }),
  apiKey: fc.option(fc.constantFrom("k1", "k2"), { nil: undefined })
})
const params = fc.dictionary(
  fc.constantFrom("temperature", "troupe.tenant", "troupe.credential", "responseFormat", "x"),
  fc.constantFrom<unknown>("A", "B", 0, null, "k1")
)
/** The victim's scope written as the params it used to be keyed under. */
const forgedScopeOf = (s: Scope) => ({
  ...(s.tenant !== undefined ? { "troupe.tenant": s.tenant } : {}),
  ...(s.apiKey !== undefined ? { "troupe.credential": hash("sha256", s.apiKey, "hex").slice(0, 32) } : {})
})
const optionsOf = (s: Scope): LlmCall["options"] => ({
  ...(s.tenant !== undefined ? { tenant: s.tenant } : {}),
  ...(s.apiKey !== undefined ? { apiKey: Redacted.make(s.apiKey) } : {})
})

/** Asserts that `keyOf` gives calls of different scopes different keys (or none), whatever params they carry. */
export const assertScopesNeverShareAKey = (
  keyOf: (context: CallContext, params: LlmRequest["params"]) => string | undefined
): void =>
  fc.assert(
    fc.property(scope, params, scope, params, fc.boolean(), (victim, victimParams, attacker, extra, forge) => {
      fc.pre(victim.tenant !== attacker.tenant || victim.apiKey !== attacker.apiKey)
      // the attacker's params: anything, or the victim's with the victim's scope written in as params
      const attackerParams = forge ? { ...extra, ...victimParams, ...forgedScopeOf(victim) } : extra
      const k1 = keyOf(contextOf(optionsOf(victim)), rawParams(victimParams))
      const k2 = keyOf(contextOf(optionsOf(attacker)), rawParams(attackerParams))
      return k1 === undefined || k2 === undefined || k1 !== k2
    }),
    { numRuns: 2000 }
  )
