/**
 * troupe telemetry: `:telemetry`-style events, `Telemetry.Metrics`-style definitions recorded into Effect metrics,
 * Prometheus exposition, a sliding-window reporter and OpenTelemetry export.
 *
 * @since 0.1.0
 */
export { defaultMetrics, fastDurationBuckets, llmDurationBuckets } from "./DefaultMetrics.ts"
export { type CatalogueEntry, catalogueMarkdown, eventCatalogue, Events, SpanPrefixes } from "./EventCatalogue.ts"
export {
  bridge as bridgeLifecycle,
  layerLifecycleBridge,
  toTelemetryEvent as lifecycleToTelemetryEvent
} from "./LifecycleBridge.ts"
export * as MetricDefinition from "./MetricDefinition.ts"
export type {
  CounterDefinition,
  DistributionDefinition,
  LastValueDefinition,
  MetricKind,
  SumDefinition,
  SummaryDefinition
} from "./MetricDefinition.ts"
export * as OtelExport from "./OtelExport.ts"
export { type ComponentStats, formatReport } from "./Reporter.ts"
export type { ExceptionInfo, SpanFunction, SpanOptions, SpanStopInfo } from "./Span.ts"
export {
  DuplicateHandlerError,
  HandlerNotFoundError,
  InvalidTelemetryInput,
  OtelPackagesMissing,
  type TelemetryError,
  TelemetryExportError
} from "./TelemetryError.ts"
export type { EventName, Handler, HandlerInfo, Measurements, Metadata, TelemetryEvent } from "./TelemetryEvent.ts"
export { formatEventName } from "./TelemetryEvent.ts"
export { TelemetryHub, type TelemetryHubOptions, type TelemetryHubShape } from "./TelemetryHub.ts"
export { genAiProviderNames, type LlmCallInfo, type LlmUsage, type TrackLlmOptions } from "./Track.ts"
