import { defineConfig } from "vitest/config"

/**
 * The subsystem folders of src/, each held to its own line-coverage threshold (v8 coverage, measured by `npm test`).
 */
const subsystems = [
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
  "internal",
  "llm",
  "llmagent",
  "memory",
  "pipeline",
  "queue",
  "ratelimit",
  "runtime",
  "telemetry"
]
const LINES = 85

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    coverage: {
      enabled: true,
      provider: "v8",
      include: ["src/**/*.ts"],
      reporter: ["text-summary", "json-summary"],
      reportsDirectory: "coverage",
      thresholds: Object.fromEntries(subsystems.map((folder) => [`src/${folder}/**`, { lines: LINES }]))
    }
  }
})
