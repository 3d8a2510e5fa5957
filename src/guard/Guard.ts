/**
 * `Guard`: every scanner under one policy, for one text at one stage. For a text at stage S under the policy of the
 * caller's scope (see `GuardPolicy.ts`), in order:
 *
 * 1. **sanitise** (NFKC, control/invisible/bidi/tag characters removed) unless the policy says `sanitize: false`;
 * 2. **injection** (if S is one of its stages; `input` is read on the `user` channel, `document` and `output` on the
 *    `document` channel): `block` fails with `GuardBlocked`, `redact` withholds the whole text
 *    (`[withheld: possible prompt injection]`), `log` keeps it;
 * 3. **secrets**: `block`, `redact` (`[REDACTED:<TYPE>]`), `log`;
 * 4. **PII**: `block`, `redact` with the policy's operator (default: reversible placeholders recorded in the call's
 *    `Vault`), `log`; placeholders put in at the `output` stage (PII the model wrote) are never restored by `restore`,
 *    only those of the `input` and `document` stages;
 * 5. **content**: `block`, `redact` (the unsafe sentences removed), `log`.
 *
 * Every verdict is a telemetry event `troupe.guard.verdict` (measurements `score`, `findings`; metadata stage,
 * scanner, action taken, flagged, rule ids, scope — never the matched text), plus the catalogue's
 * `troupe.security.injection.detected`, `troupe.security.policy.violation` (a block) and
 * `troupe.security.redaction.applied`. `GuardBlocked` names the scanner and the rule and carries no matched text.
 *
 * Streams: `window(scope, vault)` returns a `StreamWindow` that holds back the last `holdBack` characters (default
 * 256) of what arrived: a match up to that length split across chunks is complete before any of it is released, so
 * it is blocked or redacted before the client sees it; each push scans only the held text plus the new chunk, so a
 * stream costs linear time. The window never releases the start of a placeholder (`<`, `<EMAIL_1` …) without its
 * end, so each released part holds whole placeholders. Secrets longer than the window, when the secrets policy
 * covers the output stage:
 *
 * - **Tokens** (JWTs, PyPI and npm tokens, `Bearer` tokens, credential values: runs of `[A-Za-z0-9._~+/=-]`): while
 *   a run of token characters is still open at the end of what arrived and it, with the 64 characters before it
 *   (its key name: `Bearer `, `client_secret = "`), would cross the cut, nothing from those 64 characters on is
 *   released until the run ends (a character outside the class, or the end of the stream); then it is scanned (and
 *   masked) whole. A run that grows past `maxHold` (default 16 384 characters) is scanned as it is and released but
 *   for the last `holdBack` characters, and the window goes on.
 * - **PEM private keys**: once a `-----BEGIN … PRIVATE KEY-----` header is seen, nothing from the header on is
 *   released until its END line arrives, and then the whole block is scanned (and masked) at once; a block that grows
 *   past `maxHold` without an END line is scanned as it is (masked under `redact`, failing under `block`) and the
 *   rest of it is discarded up to its END line. No part of the key's body is ever released.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Option } from "effect"
import { Events, TelemetryHub } from "../telemetry/index.ts"
import type { TelemetryHubShape } from "../telemetry/index.ts"
import type { Operator } from "./Anonymizer.ts"
import { anonymize, deanonymize, Vault } from "./Anonymizer.ts"
import { applyAction, checkSafety, compileContentRule } from "./ContentFilter.ts"
import type { ContentRule } from "./ContentFilter.ts"
import { CONTENT_RULES } from "./ContentFilter.ts"
import { GuardBlocked, InvalidGuardOptions } from "./GuardError.ts"
import type { GuardPolicies, GuardPoliciesInput, GuardScope, GuardStage, ResolvedPolicy } from "./GuardPolicy.ts"
import { decodeGuardPolicies, resolvePolicy } from "./GuardPolicy.ts"
import type { Classifier } from "./InjectionDetector.ts"
import { InjectionDetector } from "./InjectionDetector.ts"
import { makeStreamWindow } from "./internal/StreamWindow.ts"
import type { StreamWindow } from "./internal/StreamWindow.ts"
import type { CustomRecognizer } from "./PiiDetector.ts"
import { detectPiiWith, recognizersFor } from "./PiiDetector.ts"
import type { Recognizer } from "./PiiDetector.ts"
import { sanitize } from "./Sanitizer.ts"
import { detectSecrets, maskSecrets } from "./SecretDetector.ts"
import type { Verdict } from "./Verdict.ts"
import { replaceSpans } from "./Verdict.ts"

export { Vault } from "./Anonymizer.ts"

/** The guard's own verdict event. */
export const GuardEvents = {
  verdict: Object.freeze(["troupe", "guard", "verdict"])
} as const

/** What `check` returns: the text to use (possibly redacted) and every verdict. */
export interface GuardOutcome {
  readonly text: string
  readonly changed: boolean
  readonly verdicts: ReadonlyArray<Verdict>
}

/** A sliding window over a streamed answer (see the module doc). */
export type { StreamWindow }

/**
 * The `Guard` service: scans text at a stage (input, document, output) under the policy that applies to the caller,
 * and blocks, redacts or logs.
 */
export interface GuardShape {
  /** Scans `text` at `stage` for `scope`; fails with `GuardBlocked` when a `block` policy matched. */
  readonly check: (
    text: string,
    stage: GuardStage,
    scope?: GuardScope,
    vault?: Vault
  ) => Effect.Effect<GuardOutcome, GuardBlocked>
  /** A stream window for the output stage. */
  readonly window: (scope?: GuardScope, vault?: Vault, holdBack?: number) => StreamWindow
  /** Restores the vault's placeholders in an answer when the scope's PII policy de-anonymises. */
  readonly restore: (text: string, scope: GuardScope | undefined, vault: Vault) => string
  readonly policyFor: (scope?: GuardScope) => ResolvedPolicy
}

/** Options of `Guard.layer`: the policies as data, and the scanners' own options. */
export interface GuardOptions {
  /** Policies as data (decoded; `InvalidGuardOptions` on a bad one). */
  readonly policies?: GuardPoliciesInput
  /** An injection classifier (e.g. `llmJudge`), consulted in addition to the heuristics. */
  readonly classifier?: Classifier
  /** Custom PII recognisers with validators (code, not data). */
  readonly recognizers?: ReadonlyArray<CustomRecognizer>
  /** Characters a stream window holds back (default 256). */
  readonly holdBack?: number
  /**
   * Characters a stream window holds from an open PEM private-key header while it waits for the END line, or from an
   * open run of token characters while it waits for its end (default 16 384); past it a held PEM block is scanned
   * (and, under a `redact` policy, redacted) and what follows is dropped until the END line, and a held run is
   * scanned and released.
   */
  readonly maxHold?: number
}

interface Compiled {
  readonly policy: ResolvedPolicy
  readonly recognizers: ReadonlyArray<Recognizer>
  readonly contentRules: ReadonlyArray<ContentRule>
}

const MAX_COMPILED = 1_000
const WITHHELD = "[withheld: possible prompt injection]"

const make = (policies: GuardPolicies, options: GuardOptions, hub: TelemetryHubShape | undefined): GuardShape => {
  const compiled = new Map<string, Compiled>()
  const injection = InjectionDetector.make(options.classifier !== undefined ? { classifier: options.classifier } : {})

  const compile = (scope: GuardScope): Compiled => {
    const key = `${scope.route ?? ""}\u0000${scope.key ?? ""}\u0000${scope.tenant ?? ""}\u0000${scope.agent ?? ""}`
    const hit = compiled.get(key)
    if (hit !== undefined) return hit
    const policy = resolvePolicy(policies, scope)
    // a decoded custom recogniser is a `CustomRecognizer` without a validator (its arrays are readonly copies)
    const custom = [
      ...(options.recognizers ?? []),
      ...(policy.pii?.custom ?? []).map((c) => ({ ...c }) as CustomRecognizer)
    ]
    const entities = policy.pii?.entities
    const value: Compiled = {
      policy,
      recognizers: recognizersFor({
        custom,
        ...(entities !== undefined ? { entities: [...entities, ...custom.map((c) => c.type)] } : {})
      }),
      contentRules: [...CONTENT_RULES, ...(policy.content?.rules ?? []).map((r) => compileContentRule({ ...r }))]
    }
    if (compiled.size >= MAX_COMPILED) compiled.clear() // bounded: policies are few, scopes may be many
    compiled.set(key, value)
    return value
  }

  const emit = (stage: GuardStage, scope: GuardScope, verdict: Verdict, action: string): void => {
    if (hub === undefined) return
    const metadata = {
      stage,
      scanner: verdict.scanner,
      action,
      flagged: verdict.flagged,
      rules: verdict.findings.map((f) => f.rule),
      ...(scope.route !== undefined ? { route: scope.route } : {}),
      ...(scope.tenant !== undefined ? { tenant: scope.tenant } : {}),
      ...(scope.agent !== undefined ? { agent: scope.agent } : {})
    }
    hub.emitUnsafe(GuardEvents.verdict, { score: verdict.score, findings: verdict.findings.length }, metadata)
    if (!verdict.flagged) return
    if (verdict.scanner === "injection") {
      hub.emitUnsafe(Events.securityInjectionDetected, { count: 1 }, { ...metadata, detector: "injection" })
    }
    if (action === "block") {
      hub.emitUnsafe(Events.securityPolicyViolation, { count: 1 }, { ...metadata, policy: verdict.scanner })
    }
    if (action === "redact") {
      hub.emitUnsafe(Events.securityRedactionApplied, { count: verdict.findings.length }, metadata)
    }
  }

  const blocked = (stage: GuardStage, verdict: Verdict): GuardBlocked => {
    const top = [...verdict.findings].sort((a, b) => b.score - a.score)[0]
    return new GuardBlocked({
      stage,
      scanner: verdict.scanner,
      rule: top?.rule ?? verdict.scanner,
      score: verdict.score,
      types: [...new Set(verdict.findings.flatMap((f) => (f.type === undefined ? [] : [f.type])))]
    })
  }

  /** The synchronous scanners after injection (secrets, PII, content) on `text`. */
  const rest = (
    text: string,
    stage: GuardStage,
    scope: GuardScope,
    c: Compiled,
    vault: Vault,
    verdicts: Array<Verdict>
  ): string | GuardBlocked => {
    const policy = c.policy
    let out = text
    const secrets = policy.secrets
    if (secrets !== undefined && secrets.stages.includes(stage)) {
      const found = detectSecrets(out)
      const verdict: Verdict = {
        scanner: "secrets",
        flagged: found.length > 0,
        score: found.length > 0 ? 1 : 0,
        findings: found
      }
      verdicts.push(verdict)
      const action = verdict.flagged ? secrets.action : "pass"
      emit(stage, scope, verdict, action)
      if (action === "block") return blocked(stage, verdict)
      if (action === "redact") out = replaceSpans(out, found, (f) => `[REDACTED:${f.type}]`)
    }
    const pii = policy.pii
    if (pii !== undefined && pii.stages.includes(stage)) {
      const found = detectPiiWith(out, c.recognizers)
      const verdict: Verdict = {
        scanner: "pii",
        flagged: found.length > 0,
        score: found.reduce((m, f) => Math.max(m, f.score), 0),
        findings: found
      }
      verdicts.push(verdict)
      const action = verdict.flagged ? pii.action : "pass"
      emit(stage, scope, verdict, action)
      if (action === "block") return blocked(stage, verdict)
      // the decoded operator Schema has exactly the `Operator` union's shapes
      // placeholders of the output stage (PII the model wrote) stay masked: only the caller's own are restored
      if (action === "redact") {
        out = anonymize(out, found, pii.operator as Operator, vault, { restorable: stage !== "output" }).text
      }
    }
    const content = policy.content
    if (content !== undefined && content.stages.includes(stage)) {
      const verdict = checkSafety(out, {
        rules: c.contentRules,
        builtin: false,
        threshold: content.threshold,
        ...(content.categories !== undefined ? { categories: content.categories } : {}),
        ...(content.allow !== undefined ? { allow: content.allow } : {})
      })
      verdicts.push(verdict)
      const action = verdict.flagged ? content.action : "pass"
      emit(stage, scope, verdict, action)
      if (action === "block") return blocked(stage, verdict)
      if (action === "redact") out = applyAction(out, verdict, "redact").text
    }
    return out
  }

  const check = (
    text: string,
    stage: GuardStage,
    scope: GuardScope = {},
    vault: Vault = new Vault()
  ): Effect.Effect<GuardOutcome, GuardBlocked> =>
    Effect.suspend(() => {
      const c = compile(scope)
      const policy = c.policy
      const verdicts: Array<Verdict> = []
      const input = policy.sanitize ? sanitize(text).text : text
      const finish = (afterInjection: string): Effect.Effect<GuardOutcome, GuardBlocked> => {
        const out = rest(afterInjection, stage, scope, c, vault, verdicts)
        if (out instanceof GuardBlocked) return Effect.fail(out)
        return Effect.succeed({ text: out, changed: out !== text, verdicts })
      }
      const inj = policy.injection
      if (inj === undefined || !inj.stages.includes(stage)) return finish(input)
      return Effect.flatMap(injection.scan(input, stage === "input" ? "user" : "document"), (v0) => {
        const verdict: Verdict = { ...v0, flagged: v0.score >= inj.threshold }
        verdicts.push(verdict)
        const action = verdict.flagged ? inj.action : "pass"
        emit(stage, scope, verdict, action)
        if (action === "block") return Effect.fail(blocked(stage, verdict))
        return finish(action === "redact" ? WITHHELD : input)
      })
    })

  const window = (
    scope: GuardScope = {},
    vault: Vault = new Vault(),
    holdBack = options.holdBack ?? 256
  ): StreamWindow => {
    const secrets = compile(scope).policy.secrets
    return makeStreamWindow({
      scan: (text) => check(text, "output", scope, vault),
      holdsSecrets: secrets !== undefined && secrets.stages.includes("output"),
      holdBack,
      maxHold: options.maxHold ?? 16_384
    })
  }

  const restore = (text: string, scope: GuardScope | undefined, vault: Vault): string => {
    const pii = compile(scope ?? {}).policy.pii
    if (pii === undefined || pii.operator.type !== "placeholder" || pii.deanonymize === false) return text
    return deanonymize(text, vault)
  }

  return { check, window, restore, policyFor: (scope = {}) => compile(scope).policy }
}

/**
 * Guardrails in one service: sanitising, prompt-injection, PII, secrets and content checks under policies per route,
 * key, tenant and agent; every verdict is a telemetry event.
 */
export class Guard extends Context.Service<Guard, GuardShape>()("troupe/guard/Guard") {
  /**
   * The guard with `options.policies` (decoded); a `TelemetryHub` in the context receives every verdict. Building
   * fails with `InvalidGuardOptions` naming the path when `options.policies` does not decode (an unknown action or
   * stage, a threshold out of range, a custom pattern that is not a valid regular expression, …).
   */
  static readonly layer = (options: GuardOptions = {}): Layer.Layer<Guard, InvalidGuardOptions> =>
    Layer.effect(
      Guard,
      Effect.gen(function*() {
        const policies = yield* decodeGuardPolicies(options.policies ?? {})
        const hub = Option.getOrUndefined(yield* Effect.serviceOption(TelemetryHub))
        return make(policies, options, hub)
      })
    )

  /**
   * Builds a guard value directly (for the agent loop's `guard` option or tests). Fails with `InvalidGuardOptions`
   * naming the path when `options.policies` does not decode, as `layer` does.
   */
  static readonly make = (options: GuardOptions = {}): Effect.Effect<GuardShape, InvalidGuardOptions> =>
    Effect.gen(function*() {
      const policies = yield* decodeGuardPolicies(options.policies ?? {})
      const hub = Option.getOrUndefined(yield* Effect.serviceOption(TelemetryHub))
      return make(policies, options, hub)
    })
}

/** The secret mask used by the guard, re-exported for loggers and telemetry handlers. */
export { maskSecrets }
