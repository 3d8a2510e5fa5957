/**
 * troupe's OTP mirror: actors (gen_server), supervisors, dynamic supervisors, registry and monitors.
 */
export * as Actor from "./Actor.ts"
export * as Behaviour from "./Behaviour.ts"
export * as ChildSpec from "./ChildSpec.ts"
export * as ExitReason from "./ExitReason.ts"
export { Lifecycle, CurrentLifecycleSink } from "./Lifecycle.ts"
export type { LifecycleEventTag, LifecycleEvent, LifecycleSink } from "./Lifecycle.ts"
export * as Process from "./Process.ts"
export * from "./RuntimeError.ts"
export * as Supervisor from "./Supervisor.ts"
export * as Task from "./Task.ts"
export * as DynamicSupervisor from "./DynamicSupervisor.ts"
export * as Monitor from "./Monitor.ts"
export { Registry, ProcessRegistry } from "./Registry.ts"
export type { KeyMode as RegistryKeyMode, Entry as RegistryEntry } from "./Registry.ts"
