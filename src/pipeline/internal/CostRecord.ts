/**
 * The cost record of one finished pipeline call, for the optional `Costs` ledger: the call's cost (0 for a cache
 * hit, nothing for an unpriced model) tagged with its tenant, user (principal), agent, the `key:` / `project:`
 * budget scopes it names, the model and provider that answered, whether the router policy rerouted it and what the
 * cache or the router saved; and the record of a hedged call's losing leg
 * (`HedgeStep`), tagged the same way plus `hedge: true`.
 *
 * @since 0.1.0
 */
import type { CostRecord } from "../../costs/index.ts"
import type { LlmCall } from "../LlmCall.ts"
import type { CallMeta } from "../LlmResult.ts"
import type { Target } from "../Target.ts"

const scopeValue = (call: LlmCall, kind: string): string | undefined => {
  const scopes = call.options?.budgets
  if (scopes === undefined) return undefined
  for (const scope of scopes) if (scope.startsWith(`${kind}:`)) return scope.slice(kind.length + 1)
  return undefined
}

const tagsOf = (call: LlmCall) => {
  const o = call.options
  const key = scopeValue(call, "key")
  const project = scopeValue(call, "project")
  return {
    ...(o?.tenant !== undefined ? { tenant: o.tenant } : {}),
    ...(o?.user !== undefined ? { principal: o.user } : {}),
    ...(o?.agent !== undefined ? { agent: o.agent } : {}),
    ...(key !== undefined ? { key } : {}),
    ...(project !== undefined ? { project } : {})
  }
}

/** The record of the losing leg of hedged `call`, sent to `target`, at `cost` USD. */
export const hedgeCostRecordOf = (call: LlmCall, target: Target, cost: number): CostRecord => ({
  cost,
  model: target.spec,
  provider: target.provider,
  cached: false,
  hedge: true,
  ...tagsOf(call)
})

/**
 * The record of `call` answered with `meta`, having saved `saved` USD (a cache hit's would-be cost, or a routed
 * call's difference), or `undefined` when its cost is unknown (unpriced model).
 */
export const costRecordOf = (call: LlmCall, meta: CallMeta, saved?: number): CostRecord | undefined => {
  if (meta.costUsd === undefined) return undefined
  return {
    cost: meta.costUsd,
    model: `${meta.provider}:${meta.model}`,
    provider: meta.provider,
    cached: meta.cached,
    ...(meta.routedTo !== undefined ? { routed: true } : {}),
    ...(saved !== undefined && saved > 0 ? { saved } : {}),
    ...tagsOf(call)
  }
}
