/**
 * Each exported function's doc says when each of its typed errors happens (issue 20 §4), checked by
 * `scripts/error-docs.ts` over the subsystems that are held to it. A subsystem joins `held` once the doc comment of
 * every exported `Effect`/`Stream`/`Layer` declaration, static member and service shape member names its errors.
 */
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { missingErrorDocs } from "../scripts/error-docs.ts"

const held = ["agent", "llm", "llmagent", "memory", "pipeline", "ratelimit", "runtime", "telemetry"]

describe("error docs", () => {
  it.each(held)("every exported declaration of src/%s names its typed errors in its doc comment", (folder) => {
    const missing = missingErrorDocs(join(import.meta.dirname, "..", "src"), [folder]).map((m) =>
      `src/${m.file}:${m.line} ${m.name}: ${m.missing.join(", ")}`
    )
    expect(missing).toEqual([])
  })
})
