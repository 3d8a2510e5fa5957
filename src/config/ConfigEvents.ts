/**
 * Where the ConfigStore sends its telemetry events: a `Context.Reference` holding an `emit` function, a no-op by
 * default, with the same signature as `TelemetryHub.emit` (`:telemetry.execute/3`).
 *
 * The store emits
 * - `["troupe", "config", "changed"]` — measurements `{ changed_paths }`, metadata `{ paths, source, version }`;
 * - `["troupe", "config", "rejected"]` — measurements `{ issues }`, metadata `{ paths, source }`.
 * Metadata carries paths and operation names only, never values, so secrets cannot leak through handlers.
 *
 * Connect it to the hub by providing, to `ConfigStore.layer`,
 * `Layer.effect(ConfigEvents, TelemetryHub.use((hub) => Effect.succeed({ emit: hub.emit })))`. A Reference (Effect's replacement for a `FiberRef` with a default)
 * keeps the config subsystem free of a hard dependency on telemetry.
 */
import { Context, Effect } from "effect"

/** The emit function the store calls. */
export interface ConfigEventSink {
  readonly emit: (
    name: ReadonlyArray<string>,
    measurements: Readonly<Record<string, number>>,
    metadata?: Readonly<Record<string, unknown>>
  ) => Effect.Effect<void>
}

/** Event names emitted by the ConfigStore. */
export const ConfigEventNames = {
  changed: ["troupe", "config", "changed"],
  rejected: ["troupe", "config", "rejected"]
} as const

/** The sink used by `ConfigStore.layer`; defaults to discarding events. */
export const ConfigEvents = Context.Reference<ConfigEventSink>("troupe/ConfigEvents", {
  defaultValue: () => ({ emit: () => Effect.void })
})
