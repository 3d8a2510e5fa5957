/**
 * troupe/errors: the error taxonomy (every failure tag classified: transient/permanent, provider/client/internal,
 * retryable, recovery strategy), custom error handlers by class, and error analytics (sliding-window aggregates,
 * trends, a k σ anomaly detector, impact analysis, OpenTelemetry exception events), and the error context
 * (`ErrorScope`: the route, tenant and agent of the current request or turn).
 *
 * @since 0.1.0
 */
export {
  type Counts,
  type ErrorAggregates,
  ErrorAnalytics,
  type ErrorAnalyticsOptions,
  type ErrorAnalyticsShape,
  type ErrorAnomaly,
  type ErrorContext,
  type ErrorImpact,
  recordException
} from "./ErrorAnalytics.ts"
export { type ErrorHandler, ErrorHandlers, type ErrorHandlersShape, handled, type HandlerKey } from "./ErrorHandlers.ts"
export { currentErrorContext, ErrorScope, mergeErrorContext, withErrorContext } from "./ErrorScope.ts"
export {
  classify,
  type ErrorClass,
  type ErrorSource,
  type ErrorTag,
  isErrorTag,
  type Recovery,
  tagOf,
  taxonomy,
  taxonomyMarkdown,
  type Transience,
  unknownClass
} from "./ErrorTaxonomy.ts"
