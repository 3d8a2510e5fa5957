/**
 * Each exported function's doc says when each of its typed errors happens (issue 20 §4), checked by
 * `scripts/error-docs.ts` over every subsystem folder of `src/`: the doc comment of every exported
 * `Effect`/`Stream`/`Layer` declaration, static member and service shape member names its errors.
 */
import { readdirSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { missingErrorDocs } from "../scripts/error-docs.ts"

// every subsystem folder of src/ (all are held to it since issue 20)
const held = readdirSync(join(import.meta.dirname, "..", "src"), { withFileTypes: true })
  .filter((entry) => entry.isDirectory() && entry.name !== "internal")
  .map((entry) => entry.name)
  .sort()

describe("error docs", () => {
  it.each(held)("every exported declaration of src/%s names its typed errors in its doc comment", (folder) => {
    const missing = missingErrorDocs(join(import.meta.dirname, "..", "src"), [folder]).map((m) =>
      `src/${m.file}:${m.line} ${m.name}: ${m.missing.join(", ")}`
    )
    expect(missing).toEqual([])
  })
})
