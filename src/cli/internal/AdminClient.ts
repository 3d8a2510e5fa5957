/**
 * The HTTP client, flags and exit codes shared by the admin commands of `troupe` (`AdminCommands`, `KeysCommands`,
 * `BudgetCommands`, `CostsCommands`, `DlqCommands`).
 *
 * Rules:
 * - The gateway is `--url`, else `TROUPE_URL`, else `url` in `~/.trouperc` (JSON), else `http://127.0.0.1:7400`; the
 *   admin key is `--admin-key`, else `TROUPE_ADMIN_KEY`, else `adminKey` in `~/.trouperc` (never printed).
 * - The gateway URL must be an `http://` or `https://` URL without credentials (`user:password@`) and without a
 *   query or fragment (a path prefix is kept); else exit 2 before any request, the value not echoed (it may hold a
 *   password). Messages name the gateway by its origin only.
 * - Every request has a timeout (`--timeout` ms, default 10,000), an integer from 1 to 2,147,483,647 (Node's
 *   longest timer; else exit 2 naming `--timeout`).
 * - Every answer is decoded with the command's Schema (only the fields the command reads); an answer that is not
 *   that document is a server error, exit 5: `<METHOD> <route>: unexpected answer at <path>: <problems>`. `--json`
 *   prints the server's JSON as is, once it decoded.
 * - Exit codes: 0 success, 1 refused by the server (the reason is printed), 2 invalid arguments found before any
 *   request was sent, 3 gateway unreachable or timed out, 4 admin key missing or refused (401/403), 5 server error
 *   (a 5xx, or an answer that is not the documented document). Usage errors (an unknown flag, a missing argument)
 *   are effect/cli's, exit 1. A defect of the CLI itself is printed as one `troupe: unexpected error: …` line, exit
 *   1, never a stack trace.
 *
 * Hand-rolled: the HTTP calls use Node's `fetch` with `AbortSignal.timeout` (one request per command; effect's
 * HttpClient would add a layer for no gain here) and the plain-text tables.
 *
 * @since 0.1.0
 */
import { Cause, Config, Console, Effect, Option, Result, Schema } from "effect"
import { Flag } from "effect/cli"
import { readFileSync } from "node:fs"
import { homedir } from "node:os"
import { join } from "node:path"
import * as InvalidInput from "../../internal/InvalidInput.ts"

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

/** Node's longest timer, in ms: a longer `setTimeout` or `AbortSignal.timeout` fires at once or throws. */
export const MAX_TIMER_MS = 2_147_483_647

/** Where requests go, once checked: the base URL, its origin (for messages), the admin key and the timeout. */
export interface Resolved {
  readonly base: string
  readonly origin: string
  readonly key: string | undefined
  readonly timeout: number
}

const URL_RULE = "expected an http:// or https:// URL without credentials, query or fragment"

/**
 * The gateway URL and admin key of `t`, after the environment and `~/.trouperc`, and its timeout. Fails with an
 * `invalidArgument` (exit 2) naming `--url` when the URL does not parse, is not http(s), or carries credentials, a
 * query or a fragment (the value is not echoed), or naming `--timeout` when it is not an integer from 1 to
 * `MAX_TIMER_MS`.
 */
export const resolveTarget = (t: Target): Effect.Effect<Resolved, CliFailure> =>
  Effect.suspend(() => {
    if (!Number.isInteger(t.timeout) || t.timeout < 1 || t.timeout > MAX_TIMER_MS) {
      return Effect.fail(
        invalidArgument(`--timeout: expected an integer of ms from 1 to ${MAX_TIMER_MS}, got ${t.timeout}`)
      )
    }
    const rc = readRc()
    const raw = Option.getOrUndefined(t.url) ?? rc.url ?? "http://127.0.0.1:7400"
    let u: URL
    try {
      u = new URL(raw)
    } catch {
      return Effect.fail(invalidArgument(`--url: ${URL_RULE} (the gateway URL does not parse)`))
    }
    if (u.protocol !== "http:" && u.protocol !== "https:") {
      return Effect.fail(invalidArgument(`--url: ${URL_RULE}, got a ${JSON.stringify(u.protocol)} URL`))
    }
    if (u.username !== "" || u.password !== "") {
      return Effect.fail(
        invalidArgument(`--url: ${URL_RULE}: ${u.origin} has credentials in it (pass the admin key as --admin-key)`)
      )
    }
    if (u.search !== "" || u.hash !== "") {
      return Effect.fail(invalidArgument(`--url: ${URL_RULE}: ${u.origin} has a query or fragment`))
    }
    return Effect.succeed({
      base: `${u.origin}${u.pathname.replace(/\/+$/, "")}`,
      origin: u.origin,
      key: Option.getOrUndefined(t.adminKey) ?? rc.adminKey,
      timeout: t.timeout
    })
  })

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

/** The outcome of a request: its status, the server's JSON (or text) as is, and the decoded answer. */
export interface Answered<A> {
  readonly status: number
  readonly body: unknown
  readonly answer: A
}

/** The admin key missing (exit 4). */
export const noAdminKey = (): CliFailure =>
  new CliFailure("no admin key: pass --admin-key, set TROUPE_ADMIN_KEY or adminKey in ~/.trouperc", 4)

/**
 * The failure of an HTTP status, or undefined when it is an answer: 4 on 401/403, 5 on a 5xx (except where
 * `answers5xx`: the health routes, whose 503 is an answer), 1 on any other 4xx (the reason printed).
 */
export const statusFailure = (
  method: string,
  route: string,
  status: number,
  body: unknown,
  answers5xx = false
): CliFailure | undefined => {
  if (status === 401 || status === 403) {
    return new CliFailure(`${method} ${route}: admin key refused (HTTP ${status})`, 4)
  }
  if (status >= 500 && !answers5xx) {
    return new CliFailure(`${method} ${route}: server error (HTTP ${status}): ${errorMessage(body)}`, 5)
  }
  if (status >= 400 && status < 500) {
    return new CliFailure(`${method} ${route}: refused (HTTP ${status}): ${errorMessage(body)}`, 1)
  }
  return undefined
}

/**
 * `body` decoded with `schema`, else a server error (exit 5): `<method> <route>: unexpected answer at <path>:
 * <problems>` (at most 3 problems, each cut to 300 characters: the answer is untrusted).
 */
export const decodeAnswer = <S extends Schema.Codec<unknown, unknown, never, never>>(
  schema: S,
  body: unknown,
  method: string,
  route: string
): Result.Result<S["Type"], CliFailure> =>
  Result.mapError(Schema.decodeUnknownResult(schema)(body, { errors: "all" }), (e) => {
    const { detail, path } = InvalidInput.describeIssue(e.issue, "", 3)
    return new CliFailure(`${method} ${route}: unexpected answer${path === "" ? "" : ` at ${path}`}: ${detail}`, 5)
  })

/** A body as JSON, else as the text it is (e.g. `/metrics`). */
export const parseBody = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

const routeOf = (path: string): string => path.split("?")[0] ?? path

/**
 * One request (`options.admin`, default true: with the admin key; `options.body`: sent as JSON), its answer decoded
 * with `answer` (see `decodeAnswer`). Fails with a `CliFailure`: code 2 when the target is invalid
 * (`resolveTarget`), 4 without an admin key or on 401/403, 3 when the gateway is unreachable or does not answer in
 * time, 5 on a 5xx (except the health routes, whose 503 is an answer) or an answer `answer` does not decode, 1 on
 * any other 4xx.
 */
export const call = <S extends Schema.Codec<unknown, unknown, never, never>>(
  t: Target,
  method: string,
  path: string,
  answer: S,
  options: { readonly body?: unknown; readonly admin?: boolean } = {}
): Effect.Effect<Answered<S["Type"]>, CliFailure> =>
  Effect.gen(function*() {
    const { base, key, origin, timeout } = yield* resolveTarget(t)
    const admin = options.admin ?? true
    const body = options.body
    if (admin && key === undefined) return yield* Effect.fail(noAdminKey())
    const headers: Record<string, string> = {}
    if (admin && key !== undefined) headers.authorization = `Bearer ${key}`
    if (body !== undefined) headers["content-type"] = "application/json"
    // built outside the request's error mapping: the timeout was checked, so this does not throw
    const signal = AbortSignal.timeout(timeout)
    const { status, parsed } = yield* Effect.tryPromise({
      try: async () => {
        const res = await fetch(`${base}${path}`, {
          method,
          headers,
          signal,
          ...(body !== undefined ? { body: JSON.stringify(body) } : {})
        })
        return { status: res.status, parsed: parseBody(await res.text()) }
      },
      catch: (e) => {
        const timedOut = e instanceof Error && (e.name === "TimeoutError" || e.name === "AbortError")
        return new CliFailure(
          timedOut
            ? `${origin}: no answer within ${timeout} ms`
            : `${origin}: gateway unreachable (${
              e instanceof Error && e.cause instanceof Error ? e.cause.message : String(e)
            })`,
          3
        )
      }
    })
    const route = routeOf(path)
    const failure = statusFailure(method, route, status, parsed, route === "/health/ready" || route === "/health/live")
    if (failure !== undefined) return yield* Effect.fail(failure)
    const decoded = decodeAnswer(answer, parsed, method, route)
    if (Result.isFailure(decoded)) return yield* Effect.fail(decoded.failure)
    return { status, body: parsed, answer: decoded.success }
  })

/** `?a=1&b=2` of the given parameters (absent ones left out), or `""`. */
export const queryOf = (params: Readonly<Record<string, string | number | undefined>>): string => {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v))
  const s = q.toString()
  return s === "" ? "" : `?${s}`
}

/**
 * Prints the failure to stderr and sets the exit code (the program itself succeeds, so effect does not log it
 * again): a `CliFailure` as `troupe: <message>` with its code, a defect as `troupe: unexpected error: <it>` with
 * exit 1 (never a stack trace). An interruption (Ctrl-C) stays one.
 */
export const report = <A>(effect: Effect.Effect<A, CliFailure>): Effect.Effect<void> =>
  effect.pipe(
    Effect.asVoid,
    Effect.catchCause((cause) => {
      if (Cause.hasInterruptsOnly(cause)) return Effect.interrupt
      const failure = cause.reasons.find((r) => r._tag === "Fail")
      const defect = cause.reasons.find((r) => r._tag === "Die")
      const [message, code] = failure?._tag === "Fail"
        ? [failure.error.message, failure.error.code]
        : [`unexpected error: ${defect?._tag === "Die" ? String(defect.defect) : "unknown"}`, 1]
      return Effect.andThen(
        Console.error(`troupe: ${message}`),
        Effect.sync(() => {
          process.exitCode = code
        })
      )
    })
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

/** The largest epoch-ms time a `Date` holds (±100,000,000 days). */
const MAX_DATE_MS = 8.64e15

/** An epoch-ms time as ISO 8601 (ms), `-` when absent or outside the range of a `Date`. */
export const isoTimeMs = (ms: unknown): string =>
  typeof ms === "number" && Number.isFinite(ms) && Math.abs(ms) <= MAX_DATE_MS ? new Date(ms).toISOString() : "-"

/** An epoch-ms time as ISO 8601 (seconds), `-` when absent or outside the range of a `Date`. */
export const isoTime = (ms: unknown): string => isoTimeMs(ms).replace(/\.\d{3}Z$/, "Z")

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
