/**
 * troupe's OTP mirror: actors (gen_server), supervisors, dynamic supervisors, registry and monitors.
 */
export * as Actor from "./Actor.ts"
export * as Behaviour from "./Behaviour.ts"
export * as ChildSpec from "./ChildSpec.ts"
export * as DynamicSupervisor from "./DynamicSupervisor.ts"
export * as ExitReason from "./ExitReason.ts"
export { CurrentLifecycleSink, Lifecycle } from "./Lifecycle.ts"
export type { LifecycleEvent, LifecycleEventTag, LifecycleSink } from "./Lifecycle.ts"
export * as Monitor from "./Monitor.ts"
export * as Process from "./Process.ts"
export { ProcessRegistry, Registry } from "./Registry.ts"
export type { Entry as RegistryEntry, KeyMode as RegistryKeyMode } from "./Registry.ts"
export * from "./RuntimeError.ts"
export * as SupervisionTree from "./SupervisionTree.ts"
export * as Supervisor from "./Supervisor.ts"
export * as Task from "./Task.ts"
