/**
 * The HTTP client, flags and exit codes shared by the admin commands of `troupe` (`AdminCommands`, `KeysCommands`,
 * `BudgetCommands`, `CostsCommands`, `DlqCommands`).
 *
 * Rules:
 * - The gateway is `--url`, else `TROUPE_URL`, else `url` in `~/.trouperc` (JSON), else `http://127.0.0.1:7400`; the
 *   admin key is `--admin-key`, else `TROUPE_ADMIN_KEY`, else `adminKey` in `~/.trouperc` (never printed).
 * - Every request has a timeout (`--timeout` ms, default 10,000).
 * - Exit codes: 0 success, 1 refused by the server (the reason is printed), 2 invalid arguments found before any
 *   request was sent, 3 gateway unreachable or timed out, 4 admin key missing or refused (401/403), 5 server error
 *   (5xx). Usage errors (an unknown flag, a missing argument) are effect/cli's, exit 1.
 *
 * Hand-rolled: the HTTP calls use Node's `fetch` with `AbortSignal.timeout` (one request per command; effect's
 * HttpClient would add a layer for no gain here) and the plain-text tables.
 *
 * @since 0.1.0
 */
import { Config, Console, Effect, Option } from "effect"
import { Flag } from "effect/cli"
import { readFileSync } from "node:fs"
import { homedir } from "node:os"
import { join } from "node:path"

/** A failure of an admin command, with its exit code. */
export class CliFailure extends Error {
  readonly _tag = "CliFailure"
  readonly code: number
  constructor(message: string, code: number) {
    super(message)
    this.code = code
  }
}

/** An invalid argument, found before any request is sent (exit code 2). */
export const invalidArgument = (message: string): CliFailure => new CliFailure(message, 2)

interface Rc {
  readonly url?: string
  readonly adminKey?: string
}

const readRc = (): Rc => {
  try {
    const raw: unknown = JSON.parse(readFileSync(join(process.env.HOME ?? homedir(), ".trouperc"), "utf8"))
    if (typeof raw !== "object" || raw === null) return {}
    const r = raw as Record<string, unknown> // checked field by field below
    return {
      ...(typeof r.url === "string" ? { url: r.url } : {}),
      ...(typeof r.adminKey === "string" ? { adminKey: r.adminKey } : {})
    }
  } catch {
    return {}
  }
}

/** The flags every admin command has: `--url`, `--admin-key`, `--json`, `--timeout`. */
export const shared = {
  url: Flag.String("url").pipe(
    Flag.withDescription("gateway URL (default: TROUPE_URL, ~/.trouperc, http://127.0.0.1:7400)"),
    Flag.withFallbackConfig(Config.String("TROUPE_URL")),
    Flag.optional
  ),
  adminKey: Flag.String("admin-key").pipe(
    Flag.withDescription("admin key (default: TROUPE_ADMIN_KEY, ~/.trouperc)"),
    Flag.withFallbackConfig(Config.String("TROUPE_ADMIN_KEY")),
    Flag.optional
  ),
  json: Flag.Boolean("json").pipe(Flag.withDescription("print JSON"), Flag.withDefault(false)),
  timeout: Flag.Int("timeout").pipe(
    Flag.withDescription("request timeout in ms (default 10000)"),
    Flag.withDefault(10_000)
  )
}

/** Where a command sends its requests (from the shared flags). */
export interface Target {
  readonly url: Option.Option<string>
  readonly adminKey: Option.Option<string>
  readonly timeout: number
}

/** The gateway URL and admin key of `t`, after the environment and `~/.trouperc`. */
export const resolveTarget = (t: Target): { readonly url: string; readonly key: string | undefined } => {
  const rc = readRc()
  const url = (Option.getOrUndefined(t.url) ?? rc.url ?? "http://127.0.0.1:7400").replace(/\/+$/, "")
  const key = Option.getOrUndefined(t.adminKey) ?? rc.adminKey
  return { url, key }
}

/** The message of an error body (OpenAI format, else the text), at most 500 characters. */
export const errorMessage = (body: unknown): string => {
  if (typeof body === "object" && body !== null && "error" in body) {
    const error = (body as { error: unknown }).error // OpenAI-format error body
    if (typeof error === "object" && error !== null && "message" in error) {
      return String((error as { message: unknown }).message)
    }
  }
  return typeof body === "string" ? body.slice(0, 500) : JSON.stringify(body).slice(0, 500)
}

/**
 * One request (`admin`: with the admin key); the status and parsed body (JSON or text). Fails with a `CliFailure`:
 * code 4 without an admin key or on 401/403, 3 when the gateway is unreachable or does not answer in time, 5 on a
 * 5xx (except the health routes, whose 503 is an answer), 1 on any other 4xx.
 */
export const call = (t: Target, method: string, path: string, body?: unknown, admin = true) =>
  Effect.tryPromise({
    try: async () => {
      const { url, key } = resolveTarget(t)
      if (admin && key === undefined) {
        throw new CliFailure("no admin key: pass --admin-key, set TROUPE_ADMIN_KEY or adminKey in ~/.trouperc", 4)
      }
      const headers: Record<string, string> = {}
      if (admin && key !== undefined) {
        headers.authorization = `Bearer ${key}`
      }
      if (body !== undefined) headers["content-type"] = "application/json"
      let res: Response
      try {
        res = await fetch(`${url}${path}`, {
          method,
          headers,
          signal: AbortSignal.timeout(t.timeout),
          ...(body !== undefined ? { body: JSON.stringify(body) } : {})
        })
      } catch (e) {
        const timedOut = e instanceof Error && (e.name === "TimeoutError" || e.name === "AbortError")
        throw new CliFailure(
          timedOut
            ? `${url}: no answer within ${t.timeout} ms`
            : `${url}: gateway unreachable (${
              e instanceof Error && e.cause instanceof Error ? e.cause.message : String(e)
            })`,
          3
        )
      }
      const text = await res.text()
      let parsed: unknown = text
      try {
        parsed = JSON.parse(text)
      } catch {
        // not JSON (e.g. /metrics)
      }
      const route = path.split("?")[0]
      if (res.status === 401 || res.status === 403) {
        throw new CliFailure(`${method} ${route}: admin key refused (HTTP ${res.status})`, 4)
      }
      if (res.status >= 500 && route !== "/health/ready" && route !== "/health/live") {
        throw new CliFailure(`${method} ${route}: server error (HTTP ${res.status}): ${errorMessage(parsed)}`, 5)
      }
      if (res.status >= 400 && res.status < 500) {
        throw new CliFailure(`${method} ${route}: refused (HTTP ${res.status}): ${errorMessage(parsed)}`, 1)
      }
      return { status: res.status, body: parsed }
    },
    catch: (e) => e instanceof CliFailure ? e : new CliFailure(String(e), 1)
  })

/** `?a=1&b=2` of the given parameters (absent ones left out), or `""`. */
export const queryOf = (params: Readonly<Record<string, string | number | undefined>>): string => {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v))
  const s = q.toString()
  return s === "" ? "" : `?${s}`
}

/** Prints the failure to stderr and sets the exit code (the program itself succeeds, so effect does not log it again). */
export const report = <A>(effect: Effect.Effect<A, CliFailure>): Effect.Effect<void> =>
  effect.pipe(
    Effect.asVoid,
    Effect.catch((e) =>
      Effect.andThen(
        Console.error(`troupe: ${e.message}`),
        Effect.sync(() => {
          process.exitCode = e.code
        })
      )
    )
  )

/** Prints `body` as JSON with `--json`, else the human form. */
export const print = (json: boolean, body: unknown, human: () => string) =>
  Console.log(json ? JSON.stringify(body, null, 2) : human())

/** A plain-text table: a header row and one row per entry, columns padded to their widest cell. */
export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((c, i) => i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)).join("  ").trimEnd()
  return [line(header), ...rows.map(line)].join("\n")
}

/** An epoch-ms time as ISO 8601 (seconds), `-` when absent. */
export const isoTime = (ms: unknown): string =>
  typeof ms === "number" && Number.isFinite(ms) ? new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z") : "-"

/** USD with up to 6 decimals. */
export const usd = (n: unknown): string =>
  typeof n === "number" && Number.isFinite(n) ? `$${Number(n.toFixed(6))}` : "-"

/** Parses a number flag: finite and within bounds, else an `invalidArgument` naming the flag. */
export const numberArg = (
  flag: string,
  raw: string,
  bounds: { readonly min: number; readonly max: number; readonly int?: boolean }
): Effect.Effect<number, CliFailure> => {
  const n = raw.trim() === "" ? Number.NaN : Number(raw)
  const kind = bounds.int === true ? "an integer" : "a number"
  return Number.isFinite(n) && n >= bounds.min && n <= bounds.max && (bounds.int !== true || Number.isInteger(n))
    ? Effect.succeed(n)
    : Effect.fail(
      invalidArgument(`${flag}: expected ${kind} from ${bounds.min} to ${bounds.max}, got ${JSON.stringify(raw)}`)
    )
}
