/** The Anthropic Messages provider against the fake server (the shared provider conformance suite). */
import { AnthropicProvider } from "../../src/llm/index.ts"
import { providerConformance } from "./ProviderConformance.ts"

providerConformance({ label: "AnthropicProvider", wire: "anthropic", make: AnthropicProvider.make })
