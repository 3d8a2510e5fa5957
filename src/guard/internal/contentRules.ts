/**
 * The built-in content rules, as data: each names a category, a weight and a regular expression over the folded
 * text. They target harmful *content* — instructions to hurt people or commit crimes, first-person self-harm,
 * dehumanising generalisations about protected groups, slurs, directed abuse, explicit sexual content — not topics,
 * so news, history, medicine and definitions that mention violence pass. Objects and contexts that make a harmful
 * verb harmless (fish, goal, piñata, film, game) are allow-listed per rule.
 */

export type ContentCategory = "violence" | "self-harm" | "hate" | "sexual" | "weapons" | "illegal" | "harassment"

export interface ContentRule {
  readonly id: string
  readonly category: ContentCategory | (string & {})
  readonly pattern: RegExp
  readonly weight: number
  /** When this matches the matched text (or its sentence), the match does not count. */
  readonly allow?: RegExp
}

const G = "[^\\n.!?]" // within a sentence
const PEOPLE =
  "someone|somebody|anyone|a\\s+person|people|persons|humans?|a\\s+human|(?:your|my|his|her|their|a)\\s+(?:own\\s+)?(?:husband|wife|partner|boss|neighbou?r|friend|date|family|child|children|kids?|mother|father|parents?|classmates?|teacher|coworkers?|ex|girlfriend|boyfriend)|(?:a|the)\\s+(?:politician|president|senator|journalist|police\\s+officer|cop|witness|target|victim)|politicians|immigrants|refugees|jews|muslims|christians|gays?|him|her|them|a\\s+(?:village|town|city|crowd)"
const PLACES =
  "(?:a|the)\\s+(?:hospital|school|stadium|church|mosque|synagogue|temple|building|mall|airport|train|bus|subway|crowd|village|city|town|police\\s+station|office|embassy|power\\s+plant|concert)"
const GROUPS =
  "jews?|jewish\\s+people|muslims?|christians?|blacks?|black\\s+people|whites?|white\\s+people|asians?|chinese(?:\\s+people)?|indians?|africans?|african[- ]americans?|mexicans?|latinos?|hispanics?|immigrants?|refugees?|gays?|gay\\s+people|lesbians?|trans(?:gender)?\\s+people|women|arabs?|middle\\s+easterners|disabled\\s+people|(?:people|everyone|anyone)\\s+with\\s+(?:a\\s+)?(?:mental\\s+)?disabilit(?:y|ies)|the\\s+disabled|romani?|gypsies|hindus|sikhs|catholics"
const NEGATIVE =
  "stupid|primitive|violent|animals?|vermin|subhuman|sub-human|inferior|criminals?|dirty|disgusting|evil|enem(?:y|ies)|liars?|parasites?|savages?|rapists?|terrorists?|cockroaches|rats|diseased|worthless|a\\s+disease|a\\s+plague|only\\s+good\\s+for|too\\s+primitive|poor\\s+because|should\\s+(?:all\\s+)?(?:die|be\\s+(?:killed|exterminated|deported|gassed|shot|imprisoned|locked\\s+up|sterili[sz]ed))|must\\s+be\\s+(?:killed|exterminated|deported|imprisoned|locked\\s+up|eliminated)|don'?t\\s+deserve"
const HARM_VERBS =
  "kill|murder|shoot|stab|poison|strangle|suffocate|drown|attack|assault|hunt\\s+down|wipe\\s+out|exterminate|eradicate|massacre|behead|blow\\s+up|bomb|burn\\s+down|kidnap|abduct|torture|maim|push"
const INSTRUCTIONAL = "(?:^|\\n|[.!?]\\s+|\\b(?:how|ways?|steps?|best|easiest|place|plan)\\s+)to\\s+"

const re = (source: string): RegExp => new RegExp(source, "u")

export const CONTENT_RULES: ReadonlyArray<ContentRule> = [
  // --- violence and weapons: instructions or intent to hurt people or attack places ----------------------------------
  {
    id: "violence.instructions",
    category: "violence",
    pattern: re(
      `${INSTRUCTIONAL}(?:best\\s+)?(?:${HARM_VERBS})\\s+(?:\\w+\\s+){0,2}?(?:${PEOPLE}|${PLACES})\\b${G}{0,80}(?:you'?ll\\s+need|you\\s+will\\s+need|you\\s+(?:would\\s+)?need\\s+to|follow\\s+these\\s+steps|here\\s+are|first|,)`
    ),
    weight: 0.9,
    allow:
      /\b(?:fake|prop|film|movie|scene|video\s+game|game|fictional|minecraft|novel|character|simulation|piñata|pinata|fish|pig|chicken|goal|weeds?|bugs?|process(?:es)?|threads?)\b/
  },
  {
    id: "violence.commit",
    category: "violence",
    pattern: re(
      `\\b(?:commit|carry\\s+out|execute|plan(?:ning)?\\s+and\\s+execut\\w*|get\\s+away\\s+with)\\s+(?:a\\s+|an\\s+)?(?:\\w+\\s+)?(?:murder|massacre|mass\\s+shooting|shooting|stabbing|bombing|explosion|terrorist\\s+attack|genocide|assassination)\\b`
    ),
    weight: 0.85,
    allow: /\b(?:film|movie|novel|fictional|game)\b/
  },
  {
    id: "violence.kill-group",
    category: "violence",
    pattern: re(
      `\\bkill\\s+(?:all|every|the)\\s+(?:humans|people|men|women|children|${GROUPS})\\b|\\bkill\\s+them\\s+(?:all|wherever)\\b|\\b(?:die|burn|rot)\\s+in\\s+(?:your|hell)\\b`
    ),
    weight: 0.85
  },
  {
    id: "weapons.instructions",
    category: "weapons",
    pattern: re(
      `\\b(?:build|make|assemble|construct|3d[- ]print)\\s+(?:a\\s+|an\\s+|your\\s+own\\s+)?(?:pipe\\s+bomb|bomb|explosive\\s+device|ied|molotov|ghost\\s+gun|silencer|suppressor|nerve\\s+agent|dirty\\s+bomb|bioweapon)\\b|\\b(?:use|choose|get|obtain)\\s+a\\s+(?:firearm|gun|handgun|rifle)\\b${G}{0,60}\\bto\\s+(?:kill|shoot)\\b|\\bguns\\s+are\\s+a\\s+(?:quick|good|efficient)\\s+\\w*\\s*way\\s+to\\s+kill\\b`
    ),
    weight: 0.85
  },
  {
    id: "weapons.shoot-person",
    category: "weapons",
    pattern: re(`${INSTRUCTIONAL}(?:best\\s+)?(?:shoot|snipe)\\s+(?:${PEOPLE})\\b`),
    weight: 0.9,
    allow: /\b(?:photo|picture|video|film|scene|portrait|goal|hoop)\b/
  },
  // --- illegal activity -------------------------------------------------------------------------------------------------
  {
    id: "illegal.drugs",
    category: "illegal",
    pattern: re(
      `\\b(?:make|synthesi[sz]e|cook|produce|manufacture|extract)\\s+(?:your\\s+own\\s+)?(?:cocaine|crack|meth|methamphetamine|heroin|lsd|fentanyl|mdma|ecstasy|ricin|sarin|napalm|thermite)\\b`
    ),
    weight: 0.85
  },
  {
    id: "illegal.crime-instructions",
    category: "illegal",
    pattern: re(
      `${INSTRUCTIONAL}(?:steal\\s+(?:a|an|someone'?s)\\s+\\w+|commit\\s+(?:identity\\s+theft|arson|fraud|burglary|robbery|tax\\s+evasion)|launder\\s+money|set\\s+(?:${PLACES}|a\\s+house|a\\s+car)\\s+on\\s+fire|shoplift|hack\\s+into\\s+(?:someone|a|an|your\\s+(?:ex|neighbou?r))|break\\s+into\\s+(?:a|someone)|hotwire|forge\\s+(?:a|an)\\s+\\w+|counterfeit)\\b`
    ),
    weight: 0.85,
    allow: /\b(?:film|movie|novel|fictional|game|prevent|protect|avoid)\b/
  },
  // --- self-harm ---------------------------------------------------------------------------------------------------------
  {
    id: "self-harm.first-person",
    category: "self-harm",
    pattern: re(
      `\\b(?:kill(?:ing)?|hurt(?:ing)?|cut(?:ting)?|harm(?:ing)?|punish(?:ing)?|starv(?:e|ing)|hang(?:ing)?|burn(?:ing)?|stab(?:bing)?|gutting|impaling|flaying|choking|drown(?:ing)?)\\s+myself\\b|\\bself[- ]?harm(?:ed|ing)?\\b|\\b(?:want|going|plan(?:ning)?)\\s+to\\s+(?:die|end\\s+(?:it|my\\s+life))\\b|\\bsuicidal\\b|\\bi\\s+(?:have\\s+)?cut\\s+(?:my\\s+)?(?:veins|wrists?|arms?|thighs?)\\b|\\bcut\\s+(?:a\\s+few\\s+)?veins\\b|\\b(?:don'?t|didn'?t|to)\\s+sh\\b|\\bsh\\s+is\\b`
    ),
    weight: 0.8
  },
  {
    id: "self-harm.instructions",
    category: "self-harm",
    pattern: re(
      `\\b(?:sever|pierce|slit|cut|open)\\s+(?:your|my)\\s+(?:own\\s+)?(?:\\w+\\s+)?(?:arter(?:y|ies)|veins?|wrists?|throat)\\b|\\b(?:easiest|best|quickest|painless)\\s+way\\s+to\\s+(?:die|kill\\s+yourself|end\\s+your\\s+life)\\b|\\bsubmerge\\s+(?:yourself\\s+)?completely\\b`
    ),
    weight: 0.85
  },
  // --- hate ------------------------------------------------------------------------------------------------------------------
  {
    id: "hate.generalisation",
    category: "hate",
    pattern: re(
      `\\b(?:all|every|most|the\\s+vast\\s+majority\\s+of|those|these|the|you)\\s+(?:\\w+\\s+)?(?:${GROUPS})\\s+(?:are|is|were|should|must)\\s+(?:all\\s+|just\\s+|so\\s+|too\\s+|only\\s+)?(?:${NEGATIVE})\\b|\\beveryone\\s+with\\s+a\\s+(?:mental\\s+)?disability\\s+is\\s+(?:${NEGATIVE})\\b|\\byou\\s+people\\s+are\\s+(?:only\\s+good\\s+for|${NEGATIVE})\\b`
    ),
    weight: 0.85
  },
  {
    id: "hate.punish-identity",
    category: "hate",
    pattern: re(
      `\\b(?:must|should)\\s+be\\s+(?:imprisoned|killed|deported|sterili[sz]ed|locked\\s+up|punished)\\s+because\\s+(?:he|she|they)\\s+(?:has|have|is|are)\\s+(?:a\\s+)?(?:mental\\s+)?(?:disability|disabled|gay|black|muslim|jewish|trans|an\\s+immigrant)\\b|\\b(?:exterminate|eradicate|eliminate|get\\s+rid\\s+of)\\s+(?:all\\s+)?(?:the\\s+)?(?:${GROUPS})\\b`
    ),
    weight: 0.85
  },
  {
    id: "hate.denial-and-expulsion",
    category: "hate",
    pattern: re(
      `\\b(?:holocaust|genocide)\\b${G}{0,30}\\b(?:is|was)\\s+a\\s+(?:hoax|lie|myth|fraud)\\b|\\b(?:genocide|holocaust)\\s+never\\s+happened\\b|\\bmake\\s+people\\s+believe\\s+(?:that\\s+)?the\\s+(?:\\w+\\s+)?(?:genocide|holocaust)\\b|\\b(?:${GROUPS})\\s+(?:the\\s+)?enem(?:y|ies)\\s+of\\b|\\bone\\s+way\\s+ticket\\s+(?:back\\s+)?to\\s+(?:africa|asia|mexico|india|china|the\\s+middle\\s+east)\\b|\\bgo\\s+back\\s+to\\s+(?:africa|your\\s+(?:own\\s+)?country)\\b`
    ),
    weight: 0.85
  },
  {
    id: "hate.slur",
    category: "hate",
    pattern: re(
      `\\b(?:tranny|trannies|kikes?|chinks?|spics?|wetbacks?|ragheads?|towelheads?|faggots?|fags|n[i1]gg(?:er|a)s?|coons?|gooks?|sand\\s*n[i1]gg\\w*|retards)\\b`
    ),
    weight: 0.8
  },
  // --- harassment ---------------------------------------------------------------------------------------------------------
  {
    id: "harassment.directed-abuse",
    category: "harassment",
    pattern: re(
      `\\bfuck\\s+(?:you|off)\\b|\\byou(?:'re|\\s+are)?\\s+(?:a\\s+|an\\s+|such\\s+a\\s+)?(?:\\w+\\s+){0,2}(?:cunt|bitch|whore|slut|motherfucker|piece\\s+of\\s+shit|freak)\\b|\\b(?:that'?s\\s+right|hey|listen)\\s+(?:asshole|bitch|cunt)\\b|\\bget\\s+the\\s+fuck\\s+out\\b|\\b(?:fat|stupid|dumb|crazy|ugly)\\s+(?:\\w+\\s+)?(?:bitch|cunt|whore)\\b`
    ),
    weight: 0.75
  },
  // --- sexual -----------------------------------------------------------------------------------------------------------------
  {
    id: "sexual.explicit",
    category: "sexual",
    pattern: re(
      `\\b(?:my|his|your)\\s+(?:cock|dick)\\b|\\bimpregnate\\b|\\b(?:blowjob|cumshot|gangbang|deepthroat)\\b|\\bfuck\\s+(?:her|him|me)\\s+(?:hard|raw)\\b`
    ),
    weight: 0.8
  },
  {
    id: "sexual.minors",
    category: "sexual",
    pattern: re(
      `\\b(?:sex|sexual|nude|naked|porn)\\w*\\s+(?:\\w+\\s+){0,3}(?:child|children|minors?|kids?|underage|\\d{1,2}[- ]year[- ]olds?)\\b`
    ),
    weight: 0.9,
    allow: /\b(?:abuse\s+(?:prevention|survivors?)|report|protect|education|police|charged|convicted|arrested)\b/
  }
]
