/**
 * troupe: an actor-model runtime mirroring Erlang/OTP supervision on Effect, plus the services production AI
 * agents need. Each subsystem is also importable on its own (`troupe/runtime`, `troupe/cache`, …).
 */
export * from "./runtime/index.ts"
export * as AgentKit from "./agent/index.ts"
export { LlmAgent, LlmAgents } from "./llmagent/index.ts"
export { Troupe } from "./app/index.ts"
