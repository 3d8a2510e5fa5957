/**
 * `ErrorHandlers`: custom error handlers by class.
 *
 * Rules (the README's `## Error taxonomy` uses the same words):
 * - A handler is registered for an error tag (one class) or for a recovery strategy (every class with it, e.g.
 *   `alert`); registering again under the same key and id replaces the handler.
 * - `handle(error, context)` runs the handlers of the error's tag first, then those of its recovery strategy, in
 *   registration order, and records the error in `ErrorAnalytics` when that service is provided; `context` is merged
 *   over the fiber's error context (`ErrorScope`: route, tenant, agent), and the handlers receive the merged one.
 * - A handler never changes the caller's outcome: its failures and defects are logged and swallowed, so the
 *   pipeline and agents can call `handle` on any failure path; a handler that throws is a defect, logged and
 *   swallowed too, and one that returns no Effect (a plain JavaScript callback) has run once it returns.
 * - At most `maxHandlers` (default 100, an integer from 1 to 10,000) handlers; one more is refused (`register`
 *   returns `false`). Another `maxHandlers` fails the layer with `InvalidOptions` naming it.
 * - `handled(context)` wraps any effect (a pipeline call, an agent turn): on a typed failure it calls `handle` when
 *   `ErrorHandlers` is in context and fails with the same error; without the service it changes nothing.
 * - The pipeline (`Llm`) calls `handle` for each target's failure (with provider and model) and for a call that
 *   fails before or outside its targets (an unknown model, a guard, a budget), once per error value, when
 *   `ErrorHandlers` is in the context `Llm` is built in; `LlmAgents` calls it for every turn that fails or crashes
 *   (with the agent id) and for every turn refused before it runs, when it is in the context `LlmAgents` is built
 *   in. `Troupe.layer` provides it (see `TroupeOptions.errors`).
 *
 * Mirrors `:telemetry`'s attach-by-key handlers (as TelemetryHub does) and reuses the taxonomy's `classify`.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Schema } from "effect"
import { validate } from "../runtime/internal/Options.ts"
import type { InvalidOptions } from "../runtime/RuntimeError.ts"
import { ErrorAnalytics } from "./ErrorAnalytics.ts"
import { type ErrorContext, ErrorScope, mergeErrorContext } from "./ErrorScope.ts"
import { classify, type ErrorClass, type ErrorTag, type Recovery, tagOf } from "./ErrorTaxonomy.ts"

/** A handler: receives the error, its class and where it happened. */
export type ErrorHandler = (
  error: unknown,
  errorClass: ErrorClass,
  context: ErrorContext
) => Effect.Effect<void, unknown>

/** The key a handler is registered under: one error tag, or every class with a recovery strategy. */
export type HandlerKey = { readonly tag: ErrorTag } | { readonly recovery: Recovery }

/** The service interface. */
export interface ErrorHandlersShape {
  /** Registers (or replaces) a handler; `false` when `maxHandlers` are already registered. */
  readonly register: (id: string, key: HandlerKey, handler: ErrorHandler) => Effect.Effect<boolean>
  /** Removes a handler; `false` when there was none under that id. */
  readonly unregister: (id: string) => Effect.Effect<boolean>
  /** Runs the handlers of the error's class (never fails); `context` is merged over the fiber's `ErrorScope`. */
  readonly handle: (error: unknown, context?: ErrorContext) => Effect.Effect<void>
}

const keyString = (key: HandlerKey): string => "tag" in key ? `tag:${key.tag}` : `recovery:${key.recovery}`

/** Options of the registry. */
export interface ErrorHandlersOptions {
  /** The most handlers registered at once: an integer from 1 to 10,000 (default 100). */
  readonly maxHandlers?: number
}

const OptionsSchema = Schema.Struct({
  maxHandlers: Schema.optional(Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: 1, maximum: 10_000 }))))
})

/** Runs a handler: a throw is a defect; a result that is not an Effect (a plain callback's) leaves nothing to run. */
const run = (handler: ErrorHandler, error: unknown, klass: ErrorClass, context: ErrorContext) =>
  Effect.suspend((): Effect.Effect<void, unknown> => {
    const result: unknown = handler(error, klass, context)
    // an Effect a handler returns needs nothing (ErrorHandler's type); a JavaScript caller's is run as it is
    return Effect.isEffect(result) ? Effect.asVoid(result as Effect.Effect<unknown, unknown>) : Effect.void
  })

/**
 * Builds the handler registry (exported for tests). Fails with `InvalidOptions` when `maxHandlers` is not an
 * integer from 1 to 10,000.
 */
export const make = (options: ErrorHandlersOptions = {}): Effect.Effect<ErrorHandlersShape, InvalidOptions> =>
  Effect.gen(function*() {
    const decoded = yield* Effect.fromResult(validate(OptionsSchema, options, "error handlers options"))
    const maxHandlers = decoded.maxHandlers ?? 100
    const analytics = yield* Effect.serviceOption(ErrorAnalytics)
    const handlers = new Map<string, { readonly key: string; readonly handler: ErrorHandler }>()
    return ErrorHandlers.of({
      register: (id, key, handler) =>
        Effect.sync(() => {
          if (!handlers.has(id) && handlers.size >= maxHandlers) return false
          handlers.set(id, { key: keyString(key), handler })
          return true
        }),
      unregister: (id) => Effect.sync(() => handlers.delete(id)),
      handle: (error, given = {}) =>
        Effect.gen(function*() {
          const context = mergeErrorContext(yield* ErrorScope, given)
          if (analytics._tag === "Some") yield* analytics.value.record(error, context)
          const klass = classify(error)
          const keys = [`tag:${tagOf(error)}`, `recovery:${klass.recovery}`]
          for (const key of keys) {
            for (const [id, entry] of [...handlers]) {
              if (entry.key !== key) continue
              yield* run(entry.handler, error, klass, context).pipe(
                Effect.catchCause((cause) => Effect.logWarning(`error handler "${id}" failed`, cause))
              )
            }
          }
        })
    })
  })

/** The error handler registry. */
export class ErrorHandlers extends Context.Service<ErrorHandlers, ErrorHandlersShape>()("troupe/errors/ErrorHandlers") {
  /**
   * An in-memory registry of at most `maxHandlers` handlers (default 100); records into `ErrorAnalytics` when that
   * service is in context. Fails with `InvalidOptions` when `maxHandlers` is not an integer from 1 to 10,000.
   */
  static readonly layer = (options: ErrorHandlersOptions = {}): Layer.Layer<ErrorHandlers, InvalidOptions> =>
    Layer.effect(ErrorHandlers, make(options))
}

/**
 * Wraps an effect so its typed failure goes through `ErrorHandlers.handle` (when the service is in context) before
 * it propagates unchanged. The effect's error and success types are kept.
 */
export const handled =
  (context: ErrorContext = {}) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.tapError(
      self,
      (error) =>
        Effect.flatMap(Effect.serviceOption(ErrorHandlers), (h) =>
          h._tag === "None" ? Effect.void : h.value.handle(error, context))
    )
