/**
 * troupe's guardrails: `Sanitizer` (normalisation, invisible and control characters), `InjectionDetector`
 * (heuristics in several languages, encoded payloads, exfiltration links, a classifier hook and `llmJudge`; user and
 * document channels), `PiiDetector` with `Anonymizer` operators (replace, mask, salted hash, reversible encryption,
 * placeholders with de-anonymisation), `SecretDetector` (provider keys, JWTs, PEM keys, credentials; `maskSecrets` for
 * loggers and telemetry), `ContentFilter` (categories, rules as data, allow-lists, block/redact/annotate), and `Guard`,
 * which runs them under per-route/key/tenant/agent policies and emits every verdict as a telemetry event. The `Llm`
 * pipeline's `GuardStep` (src/pipeline) and the agent loop's `guard` option use it.
 *
 * Peers: protectai llm-guard, Microsoft Presidio, NVIDIA NeMo Guardrails, rebuff — in process, in TypeScript, with
 * figures measured on a fixed labelled set (bench/guard-eval.ts).
 *
 * @since 0.1.0
 */
export { anonymize, deanonymize, decrypt, decryptAll, encrypt, operate, Vault } from "./Anonymizer.ts"
export type { Anonymized, Operator } from "./Anonymizer.ts"
export { applyAction, checkSafety, compileContentRule, CONTENT_RULES, ContentFilter } from "./ContentFilter.ts"
export type {
  ContentAction,
  ContentCategory,
  ContentFilterOptions,
  ContentFilterShape,
  ContentRule,
  ContentRuleInput,
  ContentVerdict,
  FilterResult
} from "./ContentFilter.ts"
export { Guard, GuardEvents } from "./Guard.ts"
export type { GuardOptions, GuardOutcome, GuardShape, StreamWindow } from "./Guard.ts"
export { GuardBlocked, InvalidGuardOptions } from "./GuardError.ts"
export {
  decodeGuardPolicies,
  DEFAULT_POLICY,
  GuardAction,
  GuardPolicies,
  GuardPolicy,
  GuardStage,
  mergePolicies,
  resolvePolicy
} from "./GuardPolicy.ts"
export type { GuardPoliciesInput, GuardScope, ResolvedPolicy } from "./GuardPolicy.ts"
export { detectInjection, INJECTION_RULES, InjectionDetector } from "./InjectionDetector.ts"
export type {
  Channel,
  Classifier,
  InjectionDetectorOptions,
  InjectionDetectorShape,
  InjectionOptions,
  InjectionRule
} from "./InjectionDetector.ts"
export { llmJudge, parseScore } from "./LlmJudge.ts"
export type { JudgeClient, LlmJudgeOptions } from "./LlmJudge.ts"
export { compileRecognizer, detectPii, PiiDetector, recognizersFor } from "./PiiDetector.ts"
export type { CustomRecognizer, PiiDetectorShape, PiiEntity, PiiOptions, Recognizer } from "./PiiDetector.ts"
export { foldForDetection, sanitize, Sanitizer } from "./Sanitizer.ts"
export type { SanitizeChange, SanitizeResult, SanitizerOptions, SanitizerShape } from "./Sanitizer.ts"
export {
  CREDENTIAL_MASK,
  detectSecrets,
  isCredentialKey,
  maskDeep,
  maskingHandler,
  maskingLogger,
  maskingLoggerLayer,
  maskRecord,
  maskSecrets,
  maskTree,
  mayHoldSecret,
  SecretDetector
} from "./SecretDetector.ts"
export type { MaskTreeOptions, SecretDetectorShape, SecretFinding, SecretRule } from "./SecretDetector.ts"
export type { Finding, ScannerName, Verdict } from "./Verdict.ts"
