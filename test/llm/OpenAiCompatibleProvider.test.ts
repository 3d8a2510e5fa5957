/** The OpenAI-compatible provider against the fake server (the shared provider conformance suite). */
import { OpenAiCompatibleProvider } from "../../src/llm/index.ts"
import { providerConformance } from "./ProviderConformance.ts"

providerConformance({ label: "OpenAiCompatibleProvider", wire: "openai", make: OpenAiCompatibleProvider.make })
