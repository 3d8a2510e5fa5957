/**
 * `npm run docs`: the API reference (typedoc) of every package entry point into `docs/api` (gitignored).
 * `npm run docs -- --check` also fails when an exported symbol has no doc comment (typedoc's `notDocumented`
 * validation, warnings treated as errors).
 *
 * typedoc needs TypeScript's JS API (5.x–6.0) while the project compiles with TypeScript 7, so typedoc and its
 * TypeScript live apart in `scripts/docs/` with their own lockfile, installed on first use.
 */
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { join } from "node:path"

const tools = join(import.meta.dirname, "docs")
const run = (command: string, args: ReadonlyArray<string>): void => {
  const result = spawnSync(command, args, { cwd: tools, stdio: "inherit" })
  if (result.status !== 0) process.exit(result.status ?? 1)
}
if (!existsSync(join(tools, "node_modules", "typedoc"))) {
  run("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"])
}
const check = process.argv.includes("--check") ? ["--treatValidationWarningsAsErrors"] : []
run(process.execPath, [join(tools, "node_modules", "typedoc", "bin", "typedoc"), "--options", "typedoc.json", ...check])
