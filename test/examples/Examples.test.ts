/**
 * The README's examples table: each script in examples/ is runnable offline and exits 0, and `npm start` is the
 * demo (examples/troupe-demo.ts), which exits 0 when every scene passes. Each script runs as a real child process
 * on this Node, with no provider key in its environment (the scripted models answer), two at a time.
 */
import { spawn } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"

const root = join(import.meta.dirname, "..", "..")

/** The environment of an offline run: no provider keys, so every provider is the scripted stand-in. */
const offlineEnv = (): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (value === undefined || /_API_KEY$/.test(name) || name.startsWith("TROUPE_") || name.startsWith("DEMO_")) {
      continue
    }
    env[name] = value
  }
  return env
}

interface Run {
  readonly file: string
  readonly code: number | null
  readonly output: string
}

/** Runs `examples/<file>` with this Node; resolves with its exit code and the tail of its output. */
const runExample = (file: string): Promise<Run> =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, [join("examples", file)], {
      cwd: root,
      env: offlineEnv(),
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4_000)
    }
    child.stdout.on("data", keep)
    child.stderr.on("data", keep)
    const timer = setTimeout(() => child.kill("SIGKILL"), 90_000)
    child.on("exit", (code) => {
      clearTimeout(timer)
      resolve({ file, code, output })
    })
  })

/** Runs every file, at most `limit` at once. */
const runAll = async (files: ReadonlyArray<string>, limit: number): Promise<Array<Run>> => {
  const runs: Array<Run> = []
  const queue = [...files]
  const worker = async () => {
    for (let file = queue.shift(); file !== undefined; file = queue.shift()) runs.push(await runExample(file))
  }
  await Promise.all(Array.from({ length: limit }, worker))
  return runs.sort((a, b) => a.file.localeCompare(b.file))
}

describe("examples", () => {
  it("each example is runnable offline and exits 0", async () => {
    const files = readdirSync(join(root, "examples")).filter((f) => f.endsWith(".ts")).sort()
    // every script is in the README's table
    const readme = readFileSync(join(root, "README.md"), "utf8")
    expect(files.filter((f) => !readme.includes(`(examples/${f})`))).toEqual([])
    const runs = await runAll(files, 2)
    expect(runs.filter((r) => r.code !== 0).map((r) => `${r.file} exited ${r.code}:\n${r.output}`)).toEqual([])
    expect(runs.map((r) => r.file)).toEqual(files)
  }, 300_000)

  it("npm start runs examples/troupe-demo.ts and exits 0", async () => {
    const scripts = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
      readonly scripts: Record<string, string>
    }).scripts
    expect(scripts["start"]).toBe("node examples/troupe-demo.ts")
    const run = await runExample("troupe-demo.ts")
    expect(run.code, run.output).toBe(0)
    expect(run.output).toContain("all stopped; bye")
  }, 120_000)
})
