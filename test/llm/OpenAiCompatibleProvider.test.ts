/** The OpenAI-compatible provider against the fake server (the shared provider conformance suite). */
import { OpenAiCompatibleProvider } from "../../src/llm/index.ts"
import { providerConformance } from "./ProviderConformance.ts"
import { providerHardening } from "./ProviderHardening.ts"
import { providerStreamRules } from "./ProviderStreamRules.ts"

providerConformance({ label: "OpenAiCompatibleProvider", wire: "openai", make: OpenAiCompatibleProvider.make })
providerHardening({ label: "OpenAiCompatibleProvider", wire: "openai", make: OpenAiCompatibleProvider.make })
providerStreamRules({ label: "OpenAiCompatibleProvider", wire: "openai", make: OpenAiCompatibleProvider.make })
