/**
 * `ErrorScope`: the error context of the current fiber — where its failures happen (the gateway route, the tenant,
 * the agent) — so whoever records a failure (`ErrorHandlers.handle`, `ErrorAnalytics.record`, the pipeline, an
 * agent) finds it without being passed it.
 *
 * Rules (the README's `## Error taxonomy` uses the same words):
 * - The error context is a `Context.Reference` (effect 4's FiberRef): empty by default, set for one effect with
 *   `withErrorContext(fields)`, which merges the fields over the context already set (a field left `undefined`
 *   keeps its current value). Fibers forked from that effect inherit it.
 * - The gateway sets the route (the HTTP route template: `/v1/chat/completions`, `/v1/agents/{id}/turns`;
 *   `unmatched` for anything else) for every request, and the tenant of the authenticated caller once its auth
 *   middleware has accepted it.
 * - An LLM agent's turn runs with the agent id over the error context of the caller that sent the turn (a `tell`
 *   too), so the pipeline's failures inside a turn carry the route, the tenant and the agent.
 * - `ErrorHandlers.handle(error, context)` and `ErrorAnalytics.record(error, context)` merge the context they are
 *   given over the current one: the given fields win, the current one fills the rest.
 *
 * Mirrors the per-request scope of error trackers (Sentry's scope tags, OpenTelemetry's context); the values are
 * bounded where they are counted (`ErrorAnalytics`' `maxKeys`).
 *
 * @since 0.1.0
 */
import { Context, Effect } from "effect"

/** Where an error happened; every field optional. */
export interface ErrorContext {
  readonly provider?: string | undefined
  readonly model?: string | undefined
  readonly route?: string | undefined
  readonly tenant?: string | undefined
  readonly agent?: string | undefined
}

const empty: ErrorContext = {}
const fields = ["provider", "model", "route", "tenant", "agent"] as const

/** The error context of the current fiber (empty by default). */
export const ErrorScope = Context.Reference<ErrorContext>("troupe/errors/ErrorScope", { defaultValue: () => empty })

/** `patch` over `base`: the fields `patch` defines win, the rest are `base`'s (`base` itself when nothing changes). */
export const mergeErrorContext = (base: ErrorContext, patch: ErrorContext): ErrorContext => {
  let out: { -readonly [K in keyof ErrorContext]: ErrorContext[K] } | undefined
  for (const field of fields) {
    const value = patch[field]
    if (value === undefined || value === base[field]) continue
    out ??= { ...base }
    out[field] = value
  }
  return out ?? base
}

/** The current fiber's error context. */
export const currentErrorContext: Effect.Effect<ErrorContext> = Effect.withFiber((fiber) =>
  Effect.succeed(fiber.getRef(ErrorScope))
)

/** Runs `self` with `context` merged over the current error context (see the module doc). */
export const withErrorContext =
  (context: ErrorContext) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.withFiber((fiber) => {
      const current = fiber.getRef(ErrorScope)
      const merged = mergeErrorContext(current, context)
      return merged === current ? self : Effect.provideService(self, ErrorScope, merged)
    })
