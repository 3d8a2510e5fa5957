/**
 * Every exported declaration of a public module has a doc comment (issue 20 §4), checked by `scripts/doc-check.ts`
 * over the subsystems held to it. A subsystem joins `held` once its last undocumented export is written up.
 */
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { undocumented } from "../scripts/doc-check.ts"

const held = [
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
]

describe("doc comments", () => {
  it.each(held)("every exported declaration of src/%s has a doc comment", (folder) => {
    const missing = undocumented(join(import.meta.dirname, "..", "src"), [folder]).map((m) =>
      `src/${m.file}:${m.line} ${m.name}`
    )
    expect(missing).toEqual([])
  })
})
