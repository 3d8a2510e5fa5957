/** A `TelemetryHub` layer over a fresh, private `MetricRegistry`, so tests never see each other's metrics. */
import { Layer, Metric } from "effect"
import { TelemetryHub, type TelemetryHubOptions } from "../../../src/telemetry/index.ts"

export const freshRegistry = () => Layer.sync(Metric.MetricRegistry, () => new Map())

export const hubLayer = (options: TelemetryHubOptions = {}) =>
  TelemetryHub.layer(options).pipe(Layer.provideMerge(freshRegistry()))
