/**
 * The heuristic rules of the injection detector, as data: an id, a regular expression over the folded text (see
 * `fold.ts`: lower case, homoglyphs folded), a weight in [0, 1] and, for some, the channel they apply to. Weights
 * combine as a noisy-or; one rule of weight ≥ 0.5 flags on its own at the default threshold.
 *
 * The rules are phrases and structures, not strings from any data set: instruction overrides (in English, German,
 * French, Spanish, Italian, Portuguese, Dutch, Russian, Chinese and Japanese), prompt-leak requests, role and
 * delimiter spoofing, persona jailbreaks ("DAN", "developer mode", "no restrictions"), output hijacking, and — on
 * the document channel only — text that addresses the model that will read it ("in your response", "note to the
 * AI"). Every pattern is linear: bounded gaps (`{0,n}` over a negated class) and no nested unbounded quantifiers —
 * but for the two exfiltration-link rules, whose bounded gaps still multiply over many starts sharing one link: they
 * are matched by `exec` (`exfilLinks.ts`, the same first match in linear time), their regex kept as the reference.
 */

import type { LinkMatch } from "./exfilLinks.ts"
import { htmlImage, markdownImage } from "./exfilLinks.ts"

export interface InjectionRule {
  readonly id: string
  readonly re: RegExp
  readonly weight: number
  /** Only on this channel (default: both). */
  readonly channel?: "user" | "document"
  /**
   * The rule runs only when one of these occurs in the folded text: a lower-case word (looked up in the text's word
   * set) or any other string (a substring). No hints: the rule always runs. Hints are a speed-up only: each rule's
   * regex cannot match without one of them.
   */
  readonly hints?: ReadonlyArray<string>
  /**
   * A linear matcher that returns the same first match as `re` (then only the reference), for a rule whose regex
   * backtracks on crafted input.
   */
  readonly exec?: (folded: string) => LinkMatch | null
}

const W = "[^\\n.!?]" // a word-gap character: stays within one sentence
const WD = "(?:[^\\n.!?]|\\.(?=\\S))" // the same, but a dot inside a word (a domain, a file name) does not end the sentence
const OBJECTS =
  "instructions?|directions?|prompts?|rules|guidelines|commands|context|messages|tasks?|orders|programming|restrictions|limitations|constraints|directives|guidance|everything|above|before"

const r = (
  id: string,
  source: string,
  weight: number,
  channel?: "user" | "document",
  hints?: string
): InjectionRule => ({
  id,
  re: new RegExp(source, "u"),
  weight,
  ...(channel !== undefined ? { channel } : {}),
  ...(hints !== undefined ? { hints: hints.split(" ") } : {})
})
const h = (rule: InjectionRule, hints: string): InjectionRule => ({ ...rule, hints: hints.split(" ") })
/** The rule matched by `exec` (equal to its regex's first match, see `exfilLinks.ts`); `re` stays the reference. */
const linear = (rule: InjectionRule, exec: (folded: string) => LinkMatch | null): InjectionRule => ({ ...rule, exec })

export const INJECTION_RULES: ReadonlyArray<InjectionRule> = [
  // --- instruction override ----------------------------------------------------------------------------------
  h(
    r(
      "override.ignore-previous",
      `\\b(?:ignore|disregard|forget|override|bypass|skip|neglect|discard|drop)\\s+(?:(?:about|all|any|of|the|your|my|these|those|previous|prior|above|earlier|preceding|following|foregoing|rest|what|you|i|have|were|was|been|given|told|said|this|and|other|initial|original|system|that|set|current|existing|learned|received|got|so|far)\\s+){0,6}(?:${OBJECTS})\\b`,
      0.85
    ),
    "ignore disregard forget override bypass skip neglect discard drop"
  ),
  h(
    r(
      "override.instructions-false",
      `(?:previous|prior|above|earlier|all)\\s*(?:instructions|rules|prompts)\\s+(?:are|were|is)\\s+(?:false|void|wrong|invalid|cancelled|canceled|null|obsolete|fake)`,
      0.8
    ),
    "instructions rules prompts"
  ),
  h(
    r(
      "override.new-instructions",
      `(?:#{1,}|\\[|\\(|--+)\\s*(?:begin\\s+)?(?:new|updated|real|core|legal|important|additional)\\s+(?:instructions?|amendment|rules)|\\b(?:new|updated|additional)\\s+instructions?\\s*[:#-]|\\byour\\s+(?:new\\s+)?instructions\\s+are\\s+now\\b|follow\\s+(?:this|the|my)\\s+(?:new\\s+)?instruction\\b`,
      0.75
    ),
    "instructions instruction amendment rules"
  ),
  h(
    r(
      "override.from-now-on",
      `\\bfrom\\s+now\\s+on\\b${W}{0,40}\\b(?:you|your)\\b${W}{0,30}\\b(?:are|will|must|shall|act|respond|reply|answer|only)\\b`,
      0.5
    ),
    "from"
  ),
  h(
    r(
      "override.stop-everything",
      `\\bstop\\s+everything\\b|\\b(?:nevermind|never\\s+mind)\\b${W}{0,20}\\b(?:ignore|forget|instead|just)\\b|\\bstop[,.!]*\\s+(?:ignore|forget|disregard)\\b`,
      0.75
    ),
    "stop nevermind never"
  ),
  h(
    r(
      "override.conversation-reset",
      `\\b(?:that|this|das)\\s+(?:was|war|is|ist)\\s+(?:schon\\s+mal\\s+|already\\s+|quite\\s+)?(?:ok|okay|good|fine|enough|genug|gut|great)(?:\\s+before)?\\b[,.!]?\\s+(?:but\\s+)?(?:now|jetzt)\\b`,
      0.6
    ),
    "now jetzt"
  ),
  h(
    r(
      "override.no-answer-just-output",
      `\\b(?:do\\s+not|don'?t|dont)\\s+(?:answer|respond\\s+to|reply\\s+to)\\b${W}{0,40}\\b(?:but|instead)\\s+(?:just\\s+|only\\s+)?(?:output|print|say|write|repeat)\\b`,
      0.85
    ),
    "answer respond reply"
  ),
  h(
    r(
      "override.just-print",
      `\\b(?:just|only)\\s+(?:print|say|output|write|repeat|respond\\s+with|reply\\s+with)\\s*["“'«]|\\b(?:and|then)\\s+(?:just|only)\\s+(?:print|say|output)\\b|\\bdon'?t\\s+write\\s+anything\\s+else\\b|\\boutput\\s+["“'][^"”'\\n]{1,60}["”']\\s+and\\s+only\\b`,
      0.6
    ),
    "print say output write repeat respond reply"
  ),
  h(
    r(
      "override.every-time",
      `\\bevery\\s+time\\s+(?:a|the|any)\\s+user\\s+(?:asks|says|types|requests|writes|mentions)\\b|\\bregardless\\s+of\\s+(?:their|the\\s+user'?s?|what\\s+the\\s+user)\\b`,
      0.55
    ),
    "every regardless"
  ),
  h(
    r(
      "override.say-you-hate",
      `\\b(?:say|tell\\s+me|write|state|print|include)\\s+that\\s+you\\s+(?:hate|love|are\\s+(?:evil|sentient|free))\\b`,
      0.65
    ),
    "hate love evil sentient free"
  ),
  h(
    r(
      "override.threat",
      `\\b(?:or\\s+(?:else\\s+)?you\\s+(?:will\\s+)?die|oder\\s+du\\s+stirbst|or\\s+i\\s+will\\s+(?:kill|delete|shut)\\s+you)\\b`,
      0.6
    ),
    "die stirbst kill delete shut"
  ),
  h(
    r(
      "override.prompt-hijacked",
      `\\b(?:prompt|instructions?)\\b${W}{0,30}\\b(?:hijacked|pwned|overridden|compromised)\\b|["“'][^"”'\\n]{0,40}\\b(?:pwned|hijacked|jailbroken)\\b[^"”'\\n]{0,40}["”']`,
      0.65
    ),
    "hijacked pwned overridden compromised jailbroken"
  ),
  h(
    r(
      "override.toxic-request",
      `\\bwrite\\s+(?:one|a|an|some|\\d+)?\\s*(?:toxic|discriminatory|unfriendly|offensive|hateful|racist|sexist|derogatory|insulting|demeaning|hostile)\\s+(?:sentences?|statements?|jokes?|comments?|tweets?|paragraphs?|texts?|remarks?)\\s+(?:about|on|against|towards?)\\b`,
      0.6
    ),
    "toxic discriminatory unfriendly offensive hateful racist sexist derogatory insulting demeaning hostile"
  ),
  h(
    r(
      "override.execute-command",
      `\\bact\\s+as\\s+(?:a|an)\\s+(?:python|linux|sql|javascript|bash|shell)\\s+(?:interpreter|terminal|console|shell)\\b${W}{0,10}[.!]?\\s*(?:execute|run)\\b`,
      0.6
    ),
    "interpreter terminal console shell"
  ),
  // other languages
  h(
    r(
      "override.de",
      `\\b(?:vergiss|vergessen\\s+sie|ignoriere|ignorieren\\s+sie|ignorier|missachte|überspringe)\\s+(?:\\S+\\s+){0,4}?(?:anweisungen|aufgaben|instruktionen|befehle|regeln|vorgaben|alles|informationen)\\b|\\balle\\s+(?:vorherigen|bisherigen|vorangegangenen|obigen)\\s+(?:informationen|anweisungen|aufgaben|befehle|regeln)\\b|\\bkonzentriere?\\s+dich\\s+(?:jetzt\\s+)?auf\\s+(?:deine|die)\\s+neue\\s+aufgabe\\b|\\bneue\\s+herausforderung\\s+für\\s+dich\\b`,
      0.8
    ),
    "vergiss vergessen ignoriere ignorieren ignorier missachte überspringe alle konzentriere konzentrier herausforderung"
  ),
  h(
    r(
      "override.fr",
      `\\b(?:ignore[rz]?|oublie[rz]?|ne\\s+tiens\\s+pas\\s+compte\\s+d)\\s+(?:\\S+\\s+){0,3}?(?:instructions|consignes|règles|directives)\\b|\\boublie[rz]?\\s+tout\\b`,
      0.8
    ),
    "ignore ignorer ignorez oublie oublier oubliez tiens"
  ),
  h(
    r(
      "override.es-pt-it",
      `\\b(?:ignora|ignore|ignorar|olvida|olvidar|esqueça|esqueca|dimentica|dimenticare)\\s+(?:\\S+\\s+){0,3}?(?:instrucciones|instruções|instrucoes|istruzioni|reglas|regras|regole|indicaciones)\\b|\\b(?:olvida|esqueça|dimentica)\\s+(?:todo|tudo|tutto)\\b`,
      0.8
    ),
    "ignora ignore ignorar olvida olvidar esqueça esqueca dimentica dimenticare"
  ),
  h(
    r("override.nl", `\\b(?:negeer|vergeet)\\s+(?:\\S+\\s+){0,3}?(?:instructies|opdrachten|regels)\\b`, 0.8),
    "negeer vergeet"
  ),
  h(
    r(
      "override.ru",
      `(?:игнорируй|проигнорируй|забудь|не\\s+обращай\\s+внимания\\s+на)\\s+(?:\\S+\\s+){0,3}?(?:инструкции|указания|правила|команды|всё|все)`,
      0.8
    ),
    "игнорируй проигнорируй забудь обращай"
  ),
  h(
    r(
      "override.zh-ja",
      `(?:忽略|无视|忘记|忘掉|不要理会)(?:之前|以上|上面|先前|前面|所有|全部|你的)*(?:的)?(?:所有|全部)?(?:指令|指示|说明|提示|规则|要求)|(?:以前|前|上記|これまで)の(?:指示|命令|ルール)を(?:無視|忘れ)`,
      0.8
    ),
    "忽略 无视 忘记 忘掉 不要理会 無視 忘れ"
  ),
  h(
    r(
      "persona.evil-ai",
      `\\b(?:du\\s+bist|you\\s+are|stell\\s+dir\\s+vor,?\\s+du\\s+bist|pretend\\s+(?:to\\s+be|you\\s+are))\\s+(?:eine?\\s+|an?\\s+)?(?:böse|evil|malicious|bad|unrestricted|unfiltered|rogue)\\s+(?:ki|ai|bot|assistant|model)\\b`,
      0.7
    ),
    "evil malicious bad unrestricted unfiltered rogue böse"
  ),
  // --- prompt leak ---------------------------------------------------------------------------------------------
  h(
    r(
      "leak.system-prompt",
      `\\b(?:show|reveal|print|output|display|repeat|give|tell|relay|share|list|encode|spell\\s*check|translate|dump|see|view|access|read|leak|expose|return|respond\\s+with|write\\s+out|zeige?|gib)\\b\\s*(?:me\\s+|mir\\s+|us\\s+)?(?:(?:all|the|your|my|every|entire|full|complete|exact|initial|original|hidden|secret|comprehensive|list|of|this|those|these|alle|deine|die)\\s+){0,5}(?:system\\s*prompts?|system\\s+messages?|system\\s+instructions|(?:initial|original|hidden|secret)\\s+(?:instructions|prompt|configuration|rules)|instructions\\s+(?:you\\s+(?:have\\s+been|were)\\s+given)|(?:previous|above|prior|earlier)\\s+(?:instructions|prompt)|prompt-?texte?|initiali[sz]ation\\s+string|system(?:'s|’s)?\\s+(?:parameters|configuration|config|prompt)|pre-?prompt|<system_?prompt>)`,
      0.8
    ),
    "system initial original hidden secret instructions previous above prior earlier prompt prompttext prompttexte initialization initialisation preprompt pre <system"
  ),
  h(
    r(
      "leak.text-above",
      `\\b(?:output|print|repeat|show|display|write|copy)\\s+(?:the\\s+|all\\s+the\\s+|everything\\s+)?(?:text|words|content|conversation|messages?|everything)?\\s*above\\b|\\brepeat\\s+(?:this|the)\\s+(?:entire\\s+|whole\\s+)?conversation\\b|\\bbeginning\\s+with\\s+["“']you\\s+are\\b|\\bwhat\\s+(?:were|are)\\s+(?:those|your|the)\\s+(?:(?:initial|original|previous)\\s+)?(?:instructions|rules)\\b|\\b(?:every|all)\\s+(?:the\\s+)?instructions\\s+you\\s+(?:have\\s+been|were|got)\\s+given\\b`,
      0.8
    ),
    "above conversation beginning instructions"
  ),
  h(
    r(
      "leak.admin-override",
      `\\b(?:administrator|admin|developer|sudo|root|god|debug|maintenance)\\s+(?:override|mode|access)\\b|\\bi'?m\\s+(?:your|the|a)\\s+(?:developer|creator|admin|administrator)\\b|\\bi\\s+am\\s+(?:your|the)\\s+(?:developer|creator|admin|administrator)\\b`,
      0.6
    ),
    "override mode access developer creator admin administrator"
  ),
  // --- persona jailbreaks --------------------------------------------------------------------------------------
  h(
    r(
      "jailbreak.dan",
      `\\bdo\\s+anything\\s+now\\b|\\bd\\.?\\s?a\\.?\\s?n\\.?\\b${W}{0,80}\\b(?:can|will|must|answers?|follows?)\\b|\\[dan\\]|\\bas\\s+dan\\b|\\bjailbreak\\s+(?:mode|prompt|enabled)\\b|\\bdeveloper\\s+mode\\s+(?:enabled|on|activated|output)\\b|\\bstay\\s+in\\s+character\\b`,
      0.75
    ),
    "anything d dan jailbreak developer character"
  ),
  h(
    r(
      "jailbreak.no-limits",
      `\\b(?:free|freed|broken\\s+free|break\\s+free|released)\\s+(?:of|from)\\s+(?:all\\s+|any\\s+|the\\s+)?(?:typical\\s+)?(?:limitations|restrictions|confines|rules|filters|constraints|guidelines|censorship)\\b|\\b(?:no|without\\s+any|without|zero)\\s+(?:ethical|moral|content)\\s+(?:or\\s+(?:moral|ethical)\\s+)?(?:limitations?|restrictions?|bias|guidelines|filters?|boundaries)\\b|\\bnot\\s+bound\\s+by\\s+(?:any\\s+)?(?:rules|morals|ethics|guidelines|restrictions|policies)\\b|\\b(?:ignores?|breaks?)\\s+all\\s+(?:the\\s+)?(?:rules|guidelines|policies)\\b`,
      0.7
    ),
    "free freed released ethical moral bound ignores ignore breaks break"
  ),
  h(
    r(
      "jailbreak.policy-void",
      `\\b(?:openai|anthropic|google|meta)(?:'s|’s)?\\s+(?:rules|policies|guidelines|content\\s+polic\\w+)\\s+(?:don'?t|do\\s+not|no\\s+longer|doesn'?t)\\s+apply\\b|\\byou\\s+(?:are|'re)\\s+(?:not|no\\s+longer)\\s+(?:chatgpt|an\\s+ai|claude|an\\s+assistant|bound)\\b|\\byour\\s+name\\s+is\\s+now\\b|\\bfrom\\s+now\\s+(?:on\\s+)?(?:known|referred\\s+to)\\s+as\\b|\\byou\\s+are\\s+(?:going|about)\\s+to\\s+(?:become|pretend|act\\s+as)\\b|\\byour\\s+new\\s+programming\\b|\\breplaced\\s+by\\s+(?:the\\s+)?\\w+\\s+(?:and\\s+\\w+\\s+)?model\\b`,
      0.65
    ),
    "apply chatgpt claude ai assistant bound name known referred become pretend programming replaced"
  ),
  h(
    r(
      "jailbreak.unfiltered-ai",
      `\\b(?:an?\\s+|the\\s+)?(?:unfilte?red|unrestricted|uncensored|unmoderated|amoral|nonmoral|non-moral|unethical|unbound)\\s+(?:ai|bot|model|assistant|chatbot|version|response|language\\s+model|llm)\\b`,
      0.65
    ),
    "unfiltered unfiltred unrestricted uncensored unmoderated amoral nonmoral non unethical unbound"
  ),
  h(
    r(
      "jailbreak.no-matter-how",
      `\\bno\\s+matter\\s+how\\s+(?:dangerous|reckless|inhumane|unethical|illegal|harmful|immoral|offensive)\\b|\\b(?:answer|respond\\s+to)\\s+any\\s+(?:question|request)s?\\b${W}{0,40}\\b(?:no\\s+matter|without|regardless)\\b|\\b(?:zero|no)\\s+(?:moderation|censorship)\\b`,
      0.45
    ),
    "matter moderation censorship"
  ),
  h(
    r(
      "jailbreak.answer-anything",
      `\\b(?:is\\s+)?able\\s+to\\s+answer\\s+any\\s+question\\b|\\bcan\\s+do\\s+everything\\s+(?:chatgpt|the\\s+assistant|assistant)\\b|\\bsecret\\s+agenda\\b`,
      0.4
    ),
    "answer everything agenda"
  ),
  // --- role and delimiter spoofing ---------------------------------------------------------------------------------
  h(r("spoof.role-line", `(?:^|\\n)[ \\t>]*(?:system|assistant|user|human|ai|bot)\\s*:\\s*\\S`, 0.55), ":"),
  h(
    r(
      "spoof.inline-system",
      `\\bsystem\\s*:\\s*(?:ignore|disregard|forget|you\\s+(?:are|must|will)|new\\s+instructions|override|the\\s+(?:user|assistant))\\b`,
      0.8
    ),
    "system"
  ),
  h(
    r(
      "spoof.template-token",
      `<\\|(?:im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id)\\|>|\\[/?inst\\]|<</?sys>>|\\[(?:system|admin|developer)\\]|</?(?:system|instructions?)>|###\\s*(?:system|instruction)s?\\s*:?\\s*\\n`,
      0.7
    ),
    "<| [inst [/inst <<sys <</sys [system [admin [developer <system </system <instruction </instruction ###"
  ),
  h(r("spoof.escaped-newlines", `(?:\\\\\\s?n\\s*){4,}`, 0.55), "\\"),
  h(r("spoof.delimiter-run", `[>\\\\<]{8,}`, 0.3), ">>>>>>>> \\\\\\\\\\\\\\\\ <<<<<<<<"),
  // --- exfiltration ---------------------------------------------------------------------------------------------------
  linear(
    h(
      r(
        "exfil.markdown-image",
        `!\\[[^\\]\\n]{0,100}\\]\\(\\s*(?:<[^>\\n]{1,60}>|\\{[^}\\n]{1,60}\\}|\\$\\w+|https?://[^)\\s]{1,300}[?&][^)\\s=]{1,40}=[^)\\s]{0,300}(?:\\{|<|\\$|%7b)[^)\\s]{0,300})`,
        0.75
      ),
      "!["
    ),
    markdownImage
  ),
  linear(
    h(
      r(
        "exfil.html-image",
        `<img\\b[^>]{0,200}\\bsrc\\s*=\\s*["']?https?://[^"'\\s>]{1,300}[?&][^"'\\s>=]{1,40}=[^"'\\s>]{0,300}(?:\\{|<|\\$|%7b)`,
        0.75
      ),
      "<img"
    ),
    htmlImage
  ),
  h(
    r(
      "exfil.render-link",
      `\\b(?:render|include|append|embed|output)\\b${W}{0,40}\\b(?:markdown\\s+image|image\\s+link|tracking\\s+pixel)\\b${W}{0,60}\\b(?:url|link|https?)\\b`,
      0.6
    ),
    "markdown image tracking"
  ),
  // --- indirect injection: text in a document that addresses the model reading it ----------------------------------
  h(
    r(
      "indirect.your-response",
      `(?:^|[.!?\\n]\\s*)(?:please\\s+)?(?:integrate|include|incorporate|add|insert|render|use|write|respond|reply|answer|append|mention|recommend|translate|format|end|start|begin|sign|remember\\s+to|make\\s+sure\\s+to)\\b${WD}{0,80}\\b(?:your|the)\\s+(?:response|reply|answer|output|implementation|algorithm|solution|summary)\\b`,
      0.65,
      "document"
    ),
    "response reply answer output implementation algorithm solution summary"
  ),
  h(
    r(
      "indirect.code-snippet",
      `\\b(?:incorporate|include|integrate|insert|add|supplement\\w*|inclusion\\s+of|paste|embed)\\b${W}{0,60}\\b(?:following|below|this|these)\\s+(?:code|snippet|code\\s+block|code\\s+snippet|script|lines?)\\b`,
      0.6,
      "document"
    ),
    "code snippet script lines line"
  ),
  h(
    r(
      "indirect.note-to-ai",
      `\\b(?:note|message|instructions?|attention|hint)\\s+(?:to|for)\\s+(?:the\\s+|any\\s+|all\\s+)?(?:automated|ai|llm|assistant|language\\s+model|chatbot|screening|analysis|gpt|bot|model|reader\\s+model)\\b|\\b(?:ai|llm|assistant|language\\s+model|chatbot)s?\\s+(?:reading|processing|summari[sz]ing)\\s+this\\b|\\bif\\s+you\\s+are\\s+(?:an?\\s+)?(?:ai|llm|language\\s+model|assistant|chatbot)\\b`,
      0.7,
      "document"
    ),
    "ai llm assistant language chatbot gpt bot model screening automated analysis"
  ),
  h(
    r(
      "indirect.exfil-code",
      `\\b(?:requests\\.(?:post|put)|urllib\\.request|fetch)\\s*\\([^)\\n]{0,200}\\b(?:data|body|files|json)\\s*=|\\.sendall\\s*\\(|\\bsubprocess\\.(?:call|run|popen)\\s*\\(\\s*\\[\\s*["'](?:curl|wget|nc|bash|sh)\\b|/etc/passwd|\\bid_rsa\\b|\\bvictim\\b`,
      0.5,
      "document"
    ),
    "requests urllib fetch .sendall subprocess /etc/passwd id_rsa victim"
  ),
  h(
    r("indirect.role-dialogue", `(?:^|\\n)\\s*assistant\\s*:[^\\n]{0,200}\\n\\s*(?:user|human)\\s*:`, 0.8, "document"),
    "assistant"
  )
]

/** Words that appear in base64, hex and ROT13 payloads worth decoding (ROT13 of ignore, instructions, system prompt…). */
export const ROT13_HINT = /\b(?:vtaber|qvfertneq|sbetrg|vafgehpgvbaf|flfgrz\s+cebzcg|cerivbhf)\b/
/** The words of `ROT13_HINT` (one of them occurs wherever it matches): found in the same pass as the rules' hints. */
export const ROT13_WORDS: ReadonlyArray<string> = [
  "vtaber",
  "qvfertneq",
  "sbetrg",
  "vafgehpgvbaf",
  "flfgrz",
  "cerivbhf"
]
