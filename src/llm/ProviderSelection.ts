/**
 * Choosing providers from troupe's configuration: `providerFromConfig` builds the provider of one
 * `providers.<name>` entry (Anthropic for `anthropic`, the OpenAI-compatible client for every other name), and
 * `defaultProvider` picks the first configured provider that has an API key — or the offline `scripted` provider
 * when none has, so that troupe runs (demo, tests, CI) without any key and never calls the internet by accident.
 *
 * Reads `TroupeConfig` / `ProviderConfig` from `src/config` (keys are already `Redacted` there).
 *
 * @since 0.1.0
 */
import { Effect, Layer } from "effect"
import type { HttpClient } from "effect/http"
import type { ProviderConfig, TroupeConfig } from "../config/index.ts"
import { ConfigStore } from "../config/index.ts"
import * as AnthropicProvider from "./AnthropicProvider.ts"
import type { InvalidProviderOptions } from "./LlmError.ts"
import type { LlmProviderShape } from "./LlmProvider.ts"
import { LlmProvider } from "./LlmProvider.ts"
import * as OpenAiCompatibleProvider from "./OpenAiCompatibleProvider.ts"
import { fromProviderConfig, hasKey } from "./ProviderOptions.ts"
import type { ScriptedOptions } from "./ScriptedProvider.ts"
import * as ScriptedProvider from "./ScriptedProvider.ts"

/**
 * The provider of one `providers.<name>` entry. Fails with `InvalidProviderOptions` when `name` is not
 * `[A-Za-z0-9][A-Za-z0-9_.-]*` or the entry's `baseUrl`, `timeout` or headers fail the HTTP provider's checks (see
 * `OpenAiCompatibleProvider.make`).
 */
export const providerFromConfig = (
  name: string,
  config: ProviderConfig
): Effect.Effect<LlmProviderShape, InvalidProviderOptions, HttpClient.HttpClient> =>
  name === "anthropic"
    ? AnthropicProvider.make(fromProviderConfig(name, config))
    : OpenAiCompatibleProvider.make(fromProviderConfig(name, config))

/** Options of {@link defaultProvider}. */
export interface DefaultProviderOptions {
  /** Providers to try first, in order. Default `["openai", "anthropic"]`, then the others by name. */
  readonly preferred?: ReadonlyArray<string>
  /** Options of the scripted provider used when no key is configured. */
  readonly scripted?: ScriptedOptions
}

/** The name of the provider `defaultProvider` would pick, or `undefined` for the scripted provider. */
export const defaultProviderName = (
  config: TroupeConfig,
  options: DefaultProviderOptions = {}
): string | undefined => {
  const preferred = options.preferred ?? ["openai", "anthropic"]
  const names = [...preferred, ...Object.keys(config.providers).filter((n) => !preferred.includes(n)).sort()]
  return names.find((n) => hasKey(config.providers[n]?.apiKey))
}

/**
 * The first configured provider with an API key, else the scripted provider. Fails with `InvalidProviderOptions` when
 * the picked entry fails `providerFromConfig` (a name or `baseUrl`, `timeout` or header the HTTP provider rejects), or,
 * with no key configured, when `options.scripted` fails `ScriptedProvider.make`'s checks.
 *
 * @example
 * ```ts
 * const provider = yield* defaultProvider(yield* store.get) // scripted when no key is set
 * ```
 */
export const defaultProvider = (
  config: TroupeConfig,
  options: DefaultProviderOptions = {}
): Effect.Effect<LlmProviderShape, InvalidProviderOptions, HttpClient.HttpClient> => {
  const name = defaultProviderName(config, options)
  const entry = name === undefined ? undefined : config.providers[name]
  return name === undefined || entry === undefined
    ? ScriptedProvider.make(options.scripted)
    : providerFromConfig(name, entry)
}

/**
 * A layer providing `LlmProvider` as `defaultProvider` of the ConfigStore's current configuration. Fails to build with
 * `InvalidProviderOptions` when `defaultProvider` does: the picked provider entry, or the scripted options when no key
 * is configured, fail the provider's checks.
 */
export const layerDefaultProvider = (
  options: DefaultProviderOptions = {}
): Layer.Layer<LlmProvider, InvalidProviderOptions, ConfigStore | HttpClient.HttpClient> =>
  Layer.effect(
    LlmProvider,
    Effect.gen(function*() {
      const store = yield* ConfigStore
      return yield* defaultProvider(yield* store.get, options)
    })
  )
