/**
 * The pipeline's report of one answered call to the optional `Recommendations` service: the model that answered,
 * the model requested, whether it was cached, its cost, its tenant, and the sha256 hex of the canonical request
 * (requested model, messages, tools) — the prompt text itself is never handed over. The shadow calls of the
 * `SiblingStep` (agent `troupe.sibling`) are not reported: they are not the user's calls.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import type { RecommendationsShape } from "../../costs/index.ts"
import type { LlmCall } from "../LlmCall.ts"
import type { CallMeta } from "../LlmResult.ts"

/** The agent name of the `SiblingStep`'s shadow calls. */
export const SIBLING_AGENT = "troupe.sibling"

/** The sha256 hex of the canonical request: the requested model, the messages and the tools. */
export const requestHash = (model: string, call: LlmCall): string =>
  createHash("sha256").update(JSON.stringify([model, call.messages, call.tools ?? []])).digest("hex")

/** Reports an answered call to `recommendations` (one hash per call; nothing for a shadow call). */
export const observeAnswer = (recommendations: RecommendationsShape, call: LlmCall, meta: CallMeta): void => {
  if (call.options?.agent === SIBLING_AGENT) return
  const tenant = call.options?.tenant
  recommendations.observe({
    model: `${meta.provider}:${meta.model}`,
    requested: meta.requested,
    messagesHash: requestHash(meta.requested, call),
    cached: meta.cached,
    cost: meta.costUsd,
    ...(tenant !== undefined ? { tenant } : {})
  })
}
