/**
 * OpenTelemetry export over OTLP/HTTP: Effect spans (including the hub's GenAI spans) and Effect metrics (including
 * the hub's) sent to a collector such as the OpenTelemetry Collector, Jaeger, Tempo or Langfuse.
 *
 * Reuses `@effect/opentelemetry/NodeSdk` (which installs an OTel tracer for `Effect.withSpan` and a metric producer
 * reading Effect's `MetricRegistry`) with the OTel SDK's `OTLPTraceExporter` / `OTLPMetricExporter` (JSON over
 * HTTP, `/v1/traces` and `/v1/metrics`). Nothing is hand-rolled beyond validating options. The layer flushes and
 * shuts the providers down when its scope closes, so spans still buffered are sent at shutdown.
 *
 * Provide it *next to* `TelemetryHub.layer()` (same context, so both see the same `MetricRegistry`).
 *
 * The OpenTelemetry packages are optional peer dependencies of troupe, imported when this layer is built and never
 * when troupe is imported: install `@effect/opentelemetry`, `@opentelemetry/api`, `@opentelemetry/resources`,
 * `@opentelemetry/sdk-trace-base`, `@opentelemetry/sdk-trace-node`, `@opentelemetry/sdk-metrics`,
 * `@opentelemetry/exporter-trace-otlp-http` and `@opentelemetry/exporter-metrics-otlp-http` to use it. Without them
 * the layer fails with `OtelPackagesMissing`. (Its type names no OpenTelemetry type, so a program that does not use
 * it type-checks without them too; the OTel `Resource` service it also provides is left out of the type.)
 *
 * @example
 * ```ts
 * const Live = Layer.mergeAll(TelemetryHub.layer(), OtelExport.layer({ serviceName: "my-agent" }))
 * ```
 *
 * @since 0.1.0
 */
import { Effect, Layer, Schema } from "effect"
import { fromSchemaError, type InvalidTelemetryInput, OtelPackagesMissing } from "./TelemetryError.ts"

/** Options of `OtelExport.layer`. */
export interface OtelExportOptions {
  readonly serviceName: string
  readonly serviceVersion?: string
  /** Base URL of the OTLP/HTTP receiver (default `http://localhost:4318`); `/v1/traces` and `/v1/metrics` are appended. */
  readonly endpoint?: string
  /** Extra HTTP headers (e.g. an authorization header for a hosted backend). */
  readonly headers?: Readonly<Record<string, string>>
  /** Metric export period in ms (default 60 000). */
  readonly exportIntervalMillis?: number
  /** `false` exports each span as it ends (SimpleSpanProcessor) instead of batching: for development. */
  readonly batchSpans?: boolean
}

const HttpUrl = Schema.String.check(
  Schema.makeFilter((s: string) => {
    try {
      const url = new URL(s)
      return url.protocol === "http:" || url.protocol === "https:" ? undefined : "expected an http(s) URL"
    } catch {
      return "expected an absolute http(s) URL"
    }
  })
)

const OptionsSchema = Schema.Struct({
  serviceName: Schema.NonEmptyString,
  serviceVersion: Schema.optionalKey(Schema.NonEmptyString),
  endpoint: Schema.optionalKey(HttpUrl),
  headers: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  exportIntervalMillis: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 100, maximum: 86_400_000 }))),
  batchSpans: Schema.optionalKey(Schema.Boolean)
})

/** Passes a failed import on; each `import()` below carries it so that bundlers leave a missing peer to run time. */
const rethrow = (cause: unknown): never => {
  throw cause
}

/** The optional OpenTelemetry peers, imported together when the layer is built. */
const loadOtel = Effect.tryPromise({
  try: () =>
    Promise.all([
      import("@effect/opentelemetry/NodeSdk").catch(rethrow),
      import("@opentelemetry/exporter-trace-otlp-http").catch(rethrow),
      import("@opentelemetry/exporter-metrics-otlp-http").catch(rethrow),
      import("@opentelemetry/sdk-metrics").catch(rethrow),
      import("@opentelemetry/sdk-trace-base").catch(rethrow)
    ]),
  catch: (cause) => new OtelPackagesMissing({ reason: cause instanceof Error ? cause.message : String(cause) })
})

/**
 * Exports Effect spans and metrics to an OTLP/HTTP receiver. Fails with `InvalidTelemetryInput` (every issue) when
 * the options do not decode, and with `OtelPackagesMissing` when the optional OpenTelemetry peers cannot be loaded.
 */
export const layer = (options: OtelExportOptions): Layer.Layer<never, InvalidTelemetryInput | OtelPackagesMissing> =>
  Layer.unwrap(
    Effect.map(
      Effect.all([
        Schema.decodeUnknownEffect(OptionsSchema)(options, { errors: "all" }).pipe(
          Effect.mapError((e) => fromSchemaError("OtelExport options", e))
        ),
        loadOtel
      ]),
      (
        [
          o,
          [
            NodeSdk,
            { OTLPTraceExporter },
            { OTLPMetricExporter },
            { PeriodicExportingMetricReader },
            { BatchSpanProcessor, SimpleSpanProcessor }
          ]
        ]
      ) => {
        const base = (o.endpoint ?? "http://localhost:4318").replace(/\/+$/, "")
        const headers = o.headers === undefined ? {} : { headers: { ...o.headers } }
        return NodeSdk.layer(() => {
          const spanExporter = new OTLPTraceExporter({ url: `${base}/v1/traces`, ...headers })
          return {
            resource: {
              serviceName: o.serviceName,
              ...(o.serviceVersion === undefined ? {} : { serviceVersion: o.serviceVersion })
            },
            spanProcessor: o.batchSpans === false
              ? new SimpleSpanProcessor(spanExporter)
              : new BatchSpanProcessor(spanExporter),
            metricReader: new PeriodicExportingMetricReader({
              exporter: new OTLPMetricExporter({ url: `${base}/v1/metrics`, ...headers }),
              exportIntervalMillis: o.exportIntervalMillis ?? 60_000
            })
          }
        })
      }
    )
  )
