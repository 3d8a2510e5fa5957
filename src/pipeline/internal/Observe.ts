/**
 * The pipeline's report of one answered call to the optional `Recommendations` service: the model that answered,
 * the model requested, whether it was cached, its cost, its tenant, and the sha256 hex of the canonical request
 * (requested model, messages, tools) — the prompt text itself is never handed over; a request nested too deeply to
 * hash is not reported. The shadow calls of the
 * `SiblingStep` (agent `troupe.sibling`) are not reported: they are not the user's calls.
 *
 * @since 0.1.0
 */
import { CanonicalJsonTooDeep, hashRequestFields } from "../../cache/index.ts"
import type { RecommendationsShape } from "../../costs/index.ts"
import type { LlmCall } from "../LlmCall.ts"
import type { CallMeta } from "../LlmResult.ts"

/** The agent name of the `SiblingStep`'s shadow calls. */
export const SIBLING_AGENT = "troupe.sibling"

/**
 * The sha256 hex of the canonical request — the requested model, the messages and the tools, through the response
 * cache's canonical hashing (`hashRequestFields`, key order irrelevant) — or `undefined` when the content is nested
 * too deeply to key.
 */
export const requestHash = (model: string, call: LlmCall): string | undefined => {
  try {
    return hashRequestFields("", model, call.messages, undefined, call.tools ?? [], undefined)
  } catch (error) {
    if (error instanceof CanonicalJsonTooDeep) return undefined
    throw error
  }
}

/** Reports an answered call to `recommendations` (one hash per call; nothing for a shadow call). */
export const observeAnswer = (recommendations: RecommendationsShape, call: LlmCall, meta: CallMeta): void => {
  if (call.options?.agent === SIBLING_AGENT) return
  const messagesHash = requestHash(meta.requested, call)
  if (messagesHash === undefined) return
  const tenant = call.options?.tenant
  recommendations.observe({
    model: `${meta.provider}:${meta.model}`,
    requested: meta.requested,
    messagesHash,
    cached: meta.cached,
    cost: meta.costUsd,
    ...(tenant !== undefined ? { tenant } : {})
  })
}
