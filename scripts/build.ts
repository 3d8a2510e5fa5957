/**
 * `npm run build`: emits the package into `dist/` — ESM JavaScript, `.d.ts` declarations and source maps for both —
 * from `src/` with `tsconfig.build.json`.
 *
 * The sources import each other with `.ts` extensions (they run directly under Node's type stripping for tests,
 * examples and benchmarks). `rewriteRelativeImportExtensions` turns those into `.js` in the emitted JavaScript;
 * declaration files keep what the source wrote, so this script rewrites their relative `.ts` specifiers to `.js`
 * as well (same length, so the declaration maps stay exact), and every consumer's TypeScript — any version, any
 * `moduleResolution` — resolves them without `allowImportingTsExtensions`.
 */
import { spawnSync } from "node:child_process"
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"

const root = join(import.meta.dirname, "..")
const dist = join(root, "dist")

rmSync(dist, { recursive: true, force: true })
const tsc = spawnSync(join(root, "node_modules", ".bin", "tsc"), ["-p", join(root, "tsconfig.build.json")], {
  stdio: "inherit"
})
if (tsc.status !== 0) process.exit(tsc.status ?? 1)

const relativeTs = /(["'])(\.\.?\/[^"'\n]*)\.ts\1/g
let rewritten = 0
for (const entry of readdirSync(dist, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !entry.name.endsWith(".d.ts")) continue
  const file = join(entry.parentPath, entry.name)
  const text = readFileSync(file, "utf8")
  const next = text.replace(relativeTs, (_match, quote: string, path: string) => `${quote}${path}.js${quote}`)
  if (next !== text) {
    writeFileSync(file, next)
    rewritten++
  }
}
console.log(`build: dist/ written (${rewritten} declaration files had their relative .ts imports rewritten to .js)`)
