/** The Anthropic Messages provider against the fake server (the shared provider conformance suite). */
import { AnthropicProvider } from "../../src/llm/index.ts"
import { providerConformance } from "./ProviderConformance.ts"
import { providerHardening } from "./ProviderHardening.ts"
import { providerStreamRules } from "./ProviderStreamRules.ts"

providerConformance({ label: "AnthropicProvider", wire: "anthropic", make: AnthropicProvider.make })
providerHardening({ label: "AnthropicProvider", wire: "anthropic", make: AnthropicProvider.make })
providerStreamRules({ label: "AnthropicProvider", wire: "anthropic", make: AnthropicProvider.make })
