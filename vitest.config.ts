import { defineConfig } from "vitest/config"
import { subsystems } from "./scripts/subsystems.ts"

/** Each subsystem folder of src/, and the shared machinery in src/internal, is held to its own line-coverage threshold. */
const folders = [...subsystems, "internal"]
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
      thresholds: Object.fromEntries(folders.map((folder) => [`src/${folder}/**`, { lines: LINES }]))
    }
  }
})
