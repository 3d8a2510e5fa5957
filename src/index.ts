/**
 * troupe: an actor-model runtime mirroring Erlang/OTP supervision on Effect, plus the services production AI
 * agents need. The root re-exports the runtime, the supervised LLM agents and the application layer; every subsystem
 * is importable on its own (`troupe/runtime`, `troupe/agent`, `troupe/cache`, …).
 */
export { Troupe } from "./app/index.ts"
export { LlmAgent, LlmAgents } from "./llmagent/index.ts"
export * from "./runtime/index.ts"
