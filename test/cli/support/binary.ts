/**
 * What the real-binary CLI tests share: the `troupe` binary, an environment without the user's provider keys,
 * config or gateway (and a fresh `HOME`, so no `~/.trouperc`), a synchronous runner, and `troupe serve` started on
 * a free port (resolved once it prints "listening on <url>").
 */
import { spawn, spawnSync } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"

/** The `troupe` binary. */
export const bin = fileURLToPath(new URL("../../../bin/troupe.js", import.meta.url))

/** An environment variable set (undefined: removed). */
export type Env = Record<string, string | undefined>

/**
 * The test process's environment without provider keys, config, Redis, PostgreSQL or gateway settings; `HOME` a
 * fresh folder.
 */
export const cleanEnv = (name: string): Env => ({
  ...process.env,
  OPENAI_API_KEY: undefined,
  ANTHROPIC_API_KEY: undefined,
  TROUPE_CONFIG: undefined,
  REDIS_URL: undefined,
  DATABASE_URL: undefined,
  TROUPE_DATABASE_SCHEMA: undefined,
  TROUPE_URL: undefined,
  TROUPE_ADMIN_KEY: undefined,
  HOME: mkdtempSync(join(tmpdir(), `troupe-${name}-`))
})

/** Runs the binary to its end (at most 20 s): its exit code and output. */
export const runSync = (base: Env, args: ReadonlyArray<string>, env: Env = {}) => {
  const r = spawnSync(process.execPath, [bin, ...args], {
    encoding: "utf8",
    env: { ...base, ...env } as NodeJS.ProcessEnv, // undefined values remove the variable
    timeout: 20_000
  })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

/** One finished run of the binary: its exit code, output and wall time (ms). */
export interface Run {
  readonly code: number | null
  readonly out: string
  readonly err: string
  readonly ms: number
}

/** Runs the binary to its end (killed after 30 s), asynchronously so that independent runs overlap. */
export const runAsync = (base: Env, args: ReadonlyArray<string>, env: Env = {}): Promise<Run> =>
  new Promise((resolve) => {
    const started = Date.now()
    const child = spawn(process.execPath, [bin, ...args], {
      env: { ...base, ...env } as NodeJS.ProcessEnv, // undefined values remove the variable
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    let err = ""
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString()
    })
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString()
    })
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000)
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, out, err, ms: Date.now() - started })
    })
  })

/** Starts `troupe serve --port 0 …args`: the process and its URL once it listens. */
export const startServe = async (
  base: Env,
  args: ReadonlyArray<string> = [],
  env: Env = {}
): Promise<{ readonly child: ChildProcess; readonly url: string }> => {
  const child = spawn(process.execPath, [bin, "serve", "--port", "0", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...base, ...env } as NodeJS.ProcessEnv // undefined values remove the variable
  })
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on("line", (l) => {
      const m = /listening on (http:\/\/\S+)/.exec(l)
      if (m?.[1]) resolve(m[1])
    })
    child.on("exit", (code) => reject(new Error(`troupe serve exited ${code}`)))
  })
  return { child, url }
}
