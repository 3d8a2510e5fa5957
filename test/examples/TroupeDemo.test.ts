/**
 * Issue 11 §6: `npm start` (examples/troupe-demo.ts) reports a failing scene and exits non-zero, after the
 * ordered shutdown, instead of waiting for Ctrl-C. Runs the real script in a child process (~5 s).
 */
import { spawnSync } from "node:child_process"
import { describe, expect, it } from "vitest"

describe("npm start", () => {
  it("a scene failing (a revoked key answering 401) is reported and the demo exits 1", () => {
    const env: Record<string, string | undefined> = { ...process.env, DEMO_REVOKED_KEY: "1" }
    delete env["OPENAI_API_KEY"] // offline: the scripted models
    delete env["ANTHROPIC_API_KEY"]
    const result = spawnSync(process.execPath, ["examples/troupe-demo.ts"], {
      env,
      encoding: "utf8",
      timeout: 60_000
    })
    expect(result.status).toBe(1)
    expect(result.stdout).toContain("scene failed: 3. the same question twice")
    expect(result.stderr).toContain("scene \"3. the same question twice\" failed")
    expect(result.stdout).toContain("all stopped; bye")
  }, 90_000)
})
