/**
 * `troupe keys create|list|revoke|rotate`: issued API keys, over the gateway's `/admin/keys` endpoints (`AccessApi`,
 * backed by the identity subsystem's `Keys`).
 *
 * Rules:
 * - `create` and `rotate` print the new key once: it is the only time it is shown (the gateway stores only its
 *   HMAC). Store it then; `list` shows keys masked (`tr_live_<id>••••••••`) with their status.
 * - Every key belongs to a tenant; `list`, `revoke` and `rotate` name it with `--tenant` (a key of another tenant is
 *   not found, exit 1). `revoke` and `rotate` take the public id as `--id` (`--id=<id>` when it begins with `-`,
 *   which base64url ids may).
 * - Arguments are checked before any request (exit 2): tenant and principal ids are 1-128 characters of
 *   `[A-Za-z0-9._:@-]`, scopes 1-64 of `[A-Za-z0-9_.:*-]` (default `gateway:use`), `--expires-in` and `--grace`
 *   durations like `90s`, `30m`, `12h`, `7d` (grace at most 30 days, default 0: the old key stops at once).
 * - Every answer is decoded with the fields printed (exit 5 on one that is not the documented document).
 * - `--json` prints the server's JSON; the flags, the gateway and admin-key resolution and the other exit codes are
 *   those of every admin command (`internal/AdminClient.ts`).
 *
 * @since 0.1.0
 */
import { Effect, Option, Schema } from "effect"
import { Command, Flag } from "effect/cli"
import {
  call,
  type CliFailure,
  invalidArgument,
  isoTime,
  print,
  queryOf,
  report,
  shared,
  table
} from "./internal/AdminClient.ts"

const ID = /^[A-Za-z0-9._:@-]{1,128}$/
const SCOPE = /^[A-Za-z0-9_.:*-]{1,64}$/
const KEY_ID = /^[A-Za-z0-9_-]{1,256}$/

const checkId = (flag: string, value: string) =>
  ID.test(value)
    ? Effect.void
    : Effect.fail(
      invalidArgument(`${flag}: expected 1-128 characters of [A-Za-z0-9._:@-], got ${JSON.stringify(value)}`)
    )

const checkKeyId = (value: string) =>
  KEY_ID.test(value)
    ? Effect.void
    : Effect.fail(
      invalidArgument(`--id: expected a key id (as \`troupe keys list\` shows), got ${JSON.stringify(value)}`)
    )

const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/**
 * A duration such as `0`, `90s`, `30m`, `12h`, `7d` in ms, at most `max`. Fails with a `CliFailure` of exit code 2
 * (`invalidArgument`, naming the flag) when `raw` is not digits with an optional `ms`/`s`/`m`/`h`/`d` unit, is not
 * a safe integer of milliseconds, or exceeds `max`.
 */
export const durationArg = (flag: string, raw: string, max: number): Effect.Effect<number, CliFailure> => {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(raw.trim())
  const ms = m === null ? Number.NaN : Number(m[1]) * (UNITS[m[2] ?? "ms"] ?? Number.NaN)
  return Number.isSafeInteger(ms) && ms <= max
    ? Effect.succeed(ms)
    : Effect.fail(
      invalidArgument(
        `${flag}: expected a duration such as 90s, 30m, 12h or 7d (at most ${max / 86_400_000} days), got ${
          JSON.stringify(raw)
        }`
      )
    )
}

/** A masked key record, as `/admin/keys` answers it (the fields printed). */
const Masked = Schema.Struct({
  id: Schema.String,
  masked: Schema.String,
  tenant: Schema.String,
  principal: Schema.Struct({ kind: Schema.String, id: Schema.String }),
  name: Schema.String,
  scopes: Schema.Array(Schema.String),
  createdAt: Schema.Number,
  expiresAt: Schema.optional(Schema.Number),
  revokedAt: Schema.optional(Schema.Number),
  rotatedTo: Schema.optional(Schema.String)
})
type Masked = typeof Masked.Type

/** The answer of create and rotate: the key (shown once), its id and its record. */
const Created = Schema.Struct({ key: Schema.String, id: Schema.String, info: Masked })

const statusOf = (k: Masked, now: number): string => {
  if (k.revokedAt !== undefined && k.revokedAt <= now) return "revoked"
  const expired = k.expiresAt !== undefined && k.expiresAt <= now
  if (k.rotatedTo !== undefined) {
    return `rotated → ${k.rotatedTo}${expired ? "" : ` (works until ${isoTime(k.expiresAt)})`}`
  }
  return expired ? "expired" : "active"
}

/** The keys as a table (masked), newest last. */
export const renderKeys = (keys: ReadonlyArray<Masked>, now = Date.now()): string =>
  keys.length === 0
    ? "no keys"
    : table(
      ["ID", "KEY", "PRINCIPAL", "NAME", "SCOPES", "CREATED", "STATUS"],
      keys.map((
        k
      ) => [
        k.id,
        k.masked,
        `${k.principal.kind}:${k.principal.id}`,
        k.name,
        k.scopes.join(","),
        isoTime(k.createdAt),
        statusOf(k, now)
      ])
    )

const shownOnce = (body: typeof Created.Type) =>
  [
    `key: ${body.key}`,
    "  (shown only this once: store it now; the gateway keeps only its hash)",
    `id: ${body.id}  tenant: ${body.info.tenant}  principal: ${body.info.principal.kind}:${body.info.principal.id}` +
    `  scopes: ${body.info.scopes.join(",")}` +
    (body.info.expiresAt !== undefined ? `  expires: ${isoTime(body.info.expiresAt)}` : "")
  ].join("\n")

const tenantFlag = Flag.String("tenant").pipe(Flag.withDescription("the key's tenant"))

const create = Command.make("create", {
  ...shared,
  tenant: tenantFlag,
  principal: Flag.String("principal").pipe(
    Flag.withDescription("the owner's id (a user, service account or tenant id)")
  ),
  kind: Flag.Literals("kind", ["user", "service_account", "tenant"]).pipe(
    Flag.withDescription("the owner's kind (default user)"),
    Flag.withDefault("user" as const)
  ),
  name: Flag.String("name").pipe(Flag.withDescription("a label for the key, 1-128 characters")),
  scope: Flag.String("scope").pipe(
    Flag.withDescription("a scope (repeatable; default gateway:use; gateway:admin for the admin API)"),
    Flag.between(0, 32)
  ),
  expiresIn: Flag.String("expires-in").pipe(
    Flag.withDescription("lifetime, e.g. 30d (default: no expiry)"),
    Flag.optional
  )
}, (o) =>
  report(Effect.gen(function*() {
    yield* checkId("--tenant", o.tenant)
    yield* checkId("--principal", o.principal)
    if (o.name.length < 1 || o.name.length > 128) {
      return yield* Effect.fail(invalidArgument("--name: expected 1-128 characters"))
    }
    const scopes = o.scope.length === 0 ? ["gateway:use"] : o.scope
    const bad = scopes.find((s) => !SCOPE.test(s))
    if (bad !== undefined) {
      return yield* Effect.fail(
        invalidArgument(`--scope: expected 1-64 characters of [A-Za-z0-9_.:*-], got ${JSON.stringify(bad)}`)
      )
    }
    const expiresIn = Option.isSome(o.expiresIn)
      ? yield* durationArg("--expires-in", o.expiresIn.value, 3650 * 86_400_000)
      : undefined
    if (expiresIn === 0) return yield* Effect.fail(invalidArgument("--expires-in: a key must live longer than 0"))
    const r = yield* call(o, "POST", "/admin/keys", Created, {
      body: {
        principal: { kind: o.kind, id: o.principal, tenant: o.tenant },
        name: o.name,
        scopes,
        ...(expiresIn !== undefined ? { expiresAt: Date.now() + expiresIn } : {})
      }
    })
    // the create endpoint answers the created key (AccessApi), printed once
    yield* print(o.json, r.body, () => shownOnce(r.answer))
  }))).pipe(Command.withDescription("Issue a key; it is printed once (the only time it is shown)"))

const list = Command.make("list", {
  ...shared,
  tenant: tenantFlag,
  principal: Flag.String("principal").pipe(Flag.withDescription("only this principal's keys"), Flag.optional)
}, (o) =>
  report(Effect.gen(function*() {
    yield* checkId("--tenant", o.tenant)
    if (Option.isSome(o.principal)) yield* checkId("--principal", o.principal.value)
    const r = yield* call(
      o,
      "GET",
      `/admin/keys${queryOf({ tenant: o.tenant, principal: Option.getOrUndefined(o.principal) })}`,
      Schema.Array(Masked)
    )
    yield* print(o.json, r.body, () => renderKeys(r.answer))
  }))).pipe(Command.withDescription("List a tenant's keys, masked, with their status"))

// a flag, not an argument: a public id may begin with "-" (base64url), which a positional argument would take for a flag
const keyId = Flag.String("id").pipe(
  Flag.withDescription("the key's public id (as `troupe keys list` shows; one beginning with - as --id=<id>)")
)

const revoke = Command.make(
  "revoke",
  { ...shared, tenant: tenantFlag, id: keyId },
  (o) =>
    report(Effect.gen(function*() {
      yield* checkId("--tenant", o.tenant)
      yield* checkKeyId(o.id)
      const r = yield* call(
        o,
        "DELETE",
        `/admin/keys/${encodeURIComponent(o.tenant)}/${encodeURIComponent(o.id)}`,
        // the revoke endpoint answers the masked key record (AccessApi)
        Schema.Struct({ masked: Schema.String })
      )
      yield* print(o.json, r.body, () => `revoked ${o.id} (${r.answer.masked})`)
    }))
).pipe(Command.withDescription("Revoke a key: it is refused (401) from now on"))

const rotate = Command.make("rotate", {
  ...shared,
  tenant: tenantFlag,
  id: keyId,
  grace: Flag.String("grace").pipe(
    Flag.withDescription("how long the old key keeps working, e.g. 1h (default 0, at most 30d)"),
    Flag.withDefault("0")
  )
}, (o) =>
  report(Effect.gen(function*() {
    yield* checkId("--tenant", o.tenant)
    yield* checkKeyId(o.id)
    const grace = yield* durationArg("--grace", o.grace, 30 * 86_400_000)
    const r = yield* call(
      o,
      "POST",
      `/admin/keys/${encodeURIComponent(o.tenant)}/${encodeURIComponent(o.id)}/rotate${queryOf({ graceMs: grace })}`,
      Created
    )
    // the rotate endpoint answers the created key (AccessApi), printed once
    yield* print(o.json, r.body, () =>
      `${shownOnce(r.answer)}\nold key ${o.id}: ${
        grace === 0 ? "stopped now" : `works until ${isoTime(Date.now() + grace)}`
      }`)
  }))).pipe(Command.withDescription("Issue a successor key (printed once); the old key stops after --grace"))

/** `troupe keys create|list|revoke|rotate`. */
export const keys = Command.make("keys").pipe(
  Command.withDescription("Issue, list, revoke and rotate API keys"),
  Command.withSubcommands([create, list, revoke, rotate])
)
