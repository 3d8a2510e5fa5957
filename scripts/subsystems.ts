/**
 * The subsystem folders of `src/` (each exported as `troupe/<name>`), in one list: the coverage thresholds of
 * vitest.config.ts and the doc-comment test read it, so a new subsystem is added once.
 */
export const subsystems = [
  "agent",
  "app",
  "budget",
  "cache",
  "cli",
  "config",
  "costs",
  "dlq",
  "errors",
  "gateway",
  "guard",
  "identity",
  "llm",
  "llmagent",
  "memory",
  "pipeline",
  "queue",
  "ratelimit",
  "runtime",
  "telemetry"
] as const
