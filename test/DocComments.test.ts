/**
 * Every exported declaration of a public module has a doc comment (issue 20 §4), checked by `scripts/doc-check.ts`
 * over every subsystem (scripts/subsystems.ts).
 */
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { undocumented } from "../scripts/doc-check.ts"
import { subsystems } from "../scripts/subsystems.ts"

const held = subsystems

describe("doc comments", () => {
  it.each(held)("every exported declaration of src/%s has a doc comment", (folder) => {
    const missing = undocumented(join(import.meta.dirname, "..", "src"), [folder]).map((m) =>
      `src/${m.file}:${m.line} ${m.name}`
    )
    expect(missing).toEqual([])
  })
})
