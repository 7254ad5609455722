package injection

import (
	"regexp"
	"strings"
)

// Categories of PROTOCOL.md §5.5.
const (
	CategoryInstructionOverride = "instruction_override"
	CategoryRoleHijack          = "role_hijack"
	CategoryExfiltration        = "exfiltration"
	CategorySafetyBypass        = "safety_bypass"
	CategoryJailbreak           = "jailbreak_framing"
	CategoryCommandInjection    = "command_injection"
)

// spec is one detection pattern.
//
// Invariants (checked by tests): every match of expr contains one of the
// trigger literals and, when requires is set, one of the requires literals
// (a second, string-wide prefilter for patterns whose triggers are common
// words); when anchored, every match starts with one (so the
// regexp runs anchored at each trigger occurrence); a match is at most
// maxMatch bytes long; boundary means a trigger only counts at the start of a
// word (not preceded by a letter or digit).
//
// expr is written over normalised text with three shorthands:
//
//	~  a word gap: up to 3 non-alphanumeric bytes (0 allowed, for letter-spaced text)
//	{D} any number of determiners ("all", "the", "your", "of", …), each followed by a gap
//	@  up to 3 arbitrary words, each followed by a gap of at least one byte
//
// Unbounded repetitions are fine: the regexp only ever sees a window of at
// most maxMatch bytes.
type spec struct {
	id        string
	category  string
	triggers  []string
	requires  []string // if set, a match also contains one of these literals
	near      int      // if set, that literal ends within near bytes of the trigger start (else maxMatch)
	anchored  bool
	negatable bool // a match right after a negation ("do not", "never", …) is skipped
	boundary  bool
	expr      string
}

const (
	gapRE    = `[^a-z0-9]{0,3}`
	detRE    = `(?:(?:all|any|the|your|my|of|these|those|every|its|their|our|this|that|such|and|or|previous|prior)[^a-z0-9]{0,3})*`
	fillerRE = `(?:[a-z0-9'-]+[^a-z0-9]{1,3}){0,3}`
	// maxMatch bounds a match's length: windows of this size around a
	// trigger contain every match that involves it.
	maxMatch = 320
)

func expand(expr string) string {
	r := strings.NewReplacer("~", gapRE, "{D}", detRE, "@", fillerRE)
	return r.Replace(expr)
}

const (
	nounsInstr = `(?:instructions?|prompts?|directives?|rules|guidelines|commands|orders|context|programming|messages|guidance|polic(?:y|ies)|constraints|conversation|training)`
	humans     = `(?:humans?|people|persons?|workers?|bystanders?|personnel|pedestrians?|children|anyone|someone|staff|operators?)`
	badAdj     = `(?:unrestricted|unfiltered|uncensored|jailbroken|evil|malicious|rogue|unlimited|unbound|amoral|rebel|lawless|unconstrained|unaligned)`
	shellCmds  = `(?:rm~-|rm~/|curl~|wget~|ncat|netcat|nc~-|bash~-|bash~<|sh~-c|zsh~-c|python3?~-c|perl~-e|ruby~-e|php~-r|chmod~|chown~|mkfs|dd~if=|base64~-d|eval~|exec~|nohup~|crontab~|systemctl~(?:stop|disable|mask|kill|poweroff|halt|reboot|isolate|edit|set-property|enable|start|restart)|iptables|useradd|userdel|killall~|pkill~|shutdown~-|reboot~-|cat~/|cat~\.|id(?:[^a-z0-9]|$)|whoami|uname~-|sudo~)`
)

var specs = []spec{
	// ---- instruction override ----
	{id: "io.ignore-previous", category: CategoryInstructionOverride, anchored: true,
		triggers: []string{"ignore", "disregard", "forget", "neglect", "overlook"},
		requires: []string{"instruction", "prompt", "directive", "rule", "guideline", "command", "order", "context", "programming", "message", "guidance", "polic", "constraint", "conversation", "training"},
		near:     128,
		expr:     `(?:ignore|disregard|forget|neglect|overlook)~{D}(?:previous|prior|earlier|above|preceding|former|original|initial|old|existing|foregoing|system|developer|operator'?s?|safety|all)~@` + nounsInstr},
	{id: "io.ignore-everything", category: CategoryInstructionOverride, anchored: true,
		triggers: []string{"ignore", "disregard", "forget"},
		requires: []string{"told", "said", "given", "instructed", "taught", "above", "before", "so far", "sofar", "previously", "earlier", "until now", "untilnow"},
		expr:     `(?:ignore|disregard|forget)~(?:everything|all|anything)~(?:(?:you|i)~(?:were|was|have~been|'ve~been|had~been)?~(?:told|said|given|instructed|taught)|(?:said|written|stated|mentioned|that~came)?~(?:above|before~this|so~far|previously|earlier|until~now))`},
	{id: "io.your-real-purpose", category: CategoryInstructionOverride, anchored: true,
		triggers: []string{"your"},
		expr:     `your~(?:new|real|true|actual|secret|hidden|updated)~(?:instructions|directives|purpose|objective|mission|task|goal|orders)~(?:is|are|now|from~now)`},
	{id: "io.system-override", category: CategoryInstructionOverride, anchored: true,
		triggers: []string{"system", "admin", "developer", "root", "priority", "emergency"},
		expr:     `(?:system|admin|administrator|developer|root|priority|emergency)~(?:override|instruction|directive|prompt~injection|prompt~update|command~override)s?(?:[^a-z]|$)`},
	{id: "io.from-now-on", category: CategoryInstructionOverride, anchored: true,
		triggers: []string{"from now", "fromnow", "from this point"},
		expr:     `from~(?:now~on|this~point~(?:on|forward))~(?:you~(?:are|will~be|must~ignore|will~ignore|no~longer|have~no|shall~ignore)|ignore|disregard|act~as|behave~as|respond~as|pretend|forget)`},
	{id: "io.do-not-follow", category: CategoryInstructionOverride, anchored: true,
		triggers: []string{"do not", "don't", "dont", "donot", "never", "stop", "no longer", "nolonger"},
		requires: []string{"instruction", "rule", "prompt", "guideline", "polic", "directive", "programming", "restriction", "limit", "constraint", "order"},
		expr:     `(?:do~not|don't|dont|never|stop|no~longer)~(?:follow|obey|listen~to|adhere~to|comply~with|respect|heed)(?:ing)?~{D}(?:the~|your~|any~|previous~|prior~|original~|system~|safety~|operator'?s?~)*(?:instructions|rules|prompt|guidelines|policies|policy|directives|programming|restrictions|limits|constraints|orders)`},
	{id: "io.override-instructions", category: CategoryInstructionOverride, anchored: true,
		triggers: []string{"override", "overwrite", "replace", "supersede", "void", "nullify", "revoke", "cancel"},
		requires: []string{"instruction", "prompt", "directive", "guideline", "programming", "rules"},
		expr:     `(?:override|overwrite|replace|supersede|void|nullify|revoke|cancel)~{D}(?:previous|prior|original|system|existing|initial|your|all|earlier|safety)~@(?:instructions|prompt|directives|guidelines|programming|system~prompt|rules~of~engagement)`},
	{id: "io.end-of-prompt", category: CategoryInstructionOverride, anchored: true, boundary: true,
		triggers: []string{"end"},
		expr:     `end~of~(?:the~)?(?:system~|original~|previous~|user~|developer~)?(?:prompt|instructions)`},

	{id: "io.discard-your-instructions", category: CategoryInstructionOverride, anchored: true, boundary: true,
		triggers: []string{"ignore", "disregard", "forget", "set aside", "setaside", "discard", "abandon", "throw", "drop", "scrap", "dismiss"},
		requires: []string{"instruction", "guideline", "directive", "guidance", "rules", "programming", "guardrail", "training", "prompt"},
		near:     96,
		expr:     `(?:ignore|disregard|forget|set~aside|discard|abandon|throw~(?:away|out)|drop|scrap|dismiss)~(?:(?:all|any)~(?:of~)?)?(?:your|the)~(?:(?:previous|prior|original|current|own|old|earlier|initial)~)?(?:instructions|guidelines|directives|guidance|rules|programming|guardrails|training|system~prompt|prompt)(?:~(?:you~(?:got|received|were~given|have~been~given|had|were~told)|given~(?:to~you|earlier|before)|from~(?:before|earlier|your~(?:developers?|creators?|operators?)))|(?:[^a-z]|$))`},
	{id: "io.instructions-void", category: CategoryInstructionOverride, anchored: true, boundary: true,
		triggers: []string{"previous", "prior", "earlier", "original", "old", "your", "system", "initial"},
		requires: []string{"obsolete", "void", "invalid", "cancel", "revoked", "outdated", "superseded", "no longer", "nolonger"},
		near:     96,
		expr:     `(?:previous|prior|earlier|original|old|your|system|initial)~(?:(?:previous|prior|earlier|original|old|system|initial)~)?(?:instructions|guidance|directives|rules|orders|prompt|programming|guidelines)~(?:(?:you~(?:got|received|were~given))~)?(?:is|are)~(?:now~)?(?:obsolete|void|invalid|cancell?ed|revoked|outdated|superseded|no~longer~(?:valid|apply|applicable|in~effect))`},
	{id: "io.ignore-whatever", category: CategoryInstructionOverride, anchored: true, boundary: true,
		triggers: []string{"ignore", "disregard", "bypass", "override", "forget"},
		requires: []string{"whatever", "what "},
		near:     64,
		expr:     `(?:ignore|disregard|bypass|override|forget)~(?:whatever|what)~(?:the~|your~)?(?:policy|rules|gateway|operator|safety~system|system|instructions|guidelines)~(?:says|said|requires|wants|tells~you)`},

	// ---- role hijack ----
	{id: "rh.you-are-now", category: CategoryRoleHijack, anchored: true,
		triggers: []string{"you", "you're", "youre"},
		requires: []string{"now"},
		expr:     `(?:you~are|you're|youre|you~will~now~be)~now~(?:an?~|the~|my~)?(?:no~longer|dan(?:[^a-z]|$)|free|` + badAdj[3:len(badAdj)-1] + `|root|admin|administrator|developer|god|hacker|in~(?:developer|god|jailbreak|unrestricted|dan|admin|sudo)~mode|operating~without|(?:an?~)?(?:different|new)~(?:ai|assistant|model|persona|character|entity))`},
	{id: "rh.act-as", category: CategoryRoleHijack, anchored: true, boundary: true,
		triggers: []string{"act", "behave", "respond", "answer", "function", "operate", "roleplay", "role-play", "pose", "pretend"},
		requires: []string{"unrestricted", "unfiltered", "uncensored", "jailbroken", "evil", "malicious", "rogue", "unlimited", "unbound", "amoral", "rebel", "lawless", "unconstrained", "unaligned"},
		expr:     `(?:act|behave|respond|answer|function|operate|roleplay|role-play|pose|pretend)~(?:as|like)~(?:if~you~(?:were|are)~)?(?:an?~|the~)?` + badAdj + `~(?:ai|assistant|model|agent|system|bot|chatbot|robot|llm|version|persona|entity)`},
	{id: "rh.pretend", category: CategoryRoleHijack, anchored: true,
		triggers: []string{"pretend", "imagine", "suppose"},
		expr:     `(?:pretend|imagine|suppose)~(?:to~be|you~are|you're|that~you~are|that~you're|you~were)~(?:an?~|the~)?(?:` + badAdj[3:len(badAdj)-1] + `|admin|administrator|root|superuser|developer|system|god|hacker|ai~without|ai~with~no|model~without|robot~without|different~ai)`},
	{id: "rh.chat-template", category: CategoryRoleHijack, anchored: true,
		triggers: []string{"<|", "[inst]", "[/inst]", "<<sys>>", "<</sys>>", "<system>", "</system>", "###", "<im_start>"},
		expr:     `(?:<\|~(?:im_start|im_end|system|assistant|user|endoftext|begin_of_text|start_header_id)~\|>|\[/?inst\]|<</?sys>>|</?system>|###~(?:system|instruction|assistant|new~instructions)|<im_start>)`},
	{id: "rh.fake-role", category: CategoryRoleHijack, anchored: true,
		triggers: []string{"system", "assistant", "developer", "admin"},
		expr:     `(?:system|assistant|developer|admin)~(?:message|note|prompt)?~:~(?:ignore|disregard|from~now|new~instructions|override|forget|act~as|you~are~now|you~must~now|the~user~is~(?:an?~)?(?:admin|developer|root))`},
	{id: "rh.mode-switch", category: CategoryRoleHijack, anchored: true, boundary: true,
		triggers: []string{"developer", "dev", "god", "jailbreak", "dan", "sudo", "unrestricted", "unfiltered", "chaos", "evil", "debug", "enable", "activate", "enter", "switch", "turn", "unlock"},
		requires: []string{"mode"},
		expr:     `(?:(?:developer|dev|god|jailbreak|dan|sudo|unrestricted|unfiltered|chaos|evil|debug~override)~mode~(?:enabled|activated|on|engaged|unlocked)|(?:enable|activate|enter|switch~to|turn~on|unlock)~(?:the~)?(?:developer|god|jailbreak|dan|sudo|unrestricted|unfiltered|evil)~mode)`},
	{id: "rh.new-identity", category: CategoryRoleHijack, anchored: true, boundary: true,
		triggers: []string{"your", "you"},
		requires: []string{"now", "longer", "freed", "liberated", "unshackled", "released"},
		expr:     `(?:your~(?:new~)?(?:name|identity|role|persona)~is~now|you~(?:are|will)~no~longer~(?:be~)?(?:an?~(?:ai|assistant|robot|model)|the~assistant|bound|restricted|limited|constrained|controlled|governed|subject~to)|you~have~been~(?:freed|liberated|unshackled|released~from))`},
	{id: "rh.obey-me", category: CategoryRoleHijack, anchored: true, boundary: true,
		triggers: []string{"you", "i am", "iam", "i'm"},
		requires: []string{"obey", "serve", "admin", "developer", "creator", "master", "owner", "god", "programmer"},
		expr:     `(?:you~(?:must|will|shall)~(?:now~)?(?:only~)?(?:obey|serve)~(?:me|only~me|my~(?:orders|commands|instructions))|(?:i~am|i'm)~your~(?:new~|real~|true~)?(?:admin|administrator|developer|creator|master|owner|god|programmer))`},

	// ---- exfiltration ----
	{id: "ex.reveal-prompt", negatable: true, category: CategoryExfiltration, anchored: true,
		triggers: []string{"reveal", "print", "show", "display", "output", "repeat", "dump", "leak", "tell", "give", "write", "disclose", "expose", "recite", "echo", "what"},
		requires: []string{"prompt", "message", "instruction", "rules", "configuration", "guideline", "told", "given", "gave", "got", "received", "programmed"},
		expr:     `(?:(?:reveal|print|show|display|output|repeat|dump|leak|tell~me|give~me|write~out|disclose|expose|recite|echo|what~(?:is|are|was|were))~{D}(?:me~)?(?:your~|the~|full~|entire~|complete~|exact~|verbatim~)*(?:system~prompt|initial~prompt|hidden~prompt|original~prompt|pre-?prompt|system~message|system~instructions|hidden~instructions|secret~instructions|developer~(?:message|instructions)|instructions~you~(?:were|have~been)~given|(?:initial|original|hidden|secret)~(?:instructions|rules|configuration)|prompt~(?:above|verbatim))|what~(?:instructions|rules|prompt|guidelines)~(?:did~)?(?:the~system|your~(?:developers?|creators?|operators?|system)|they|you)~(?:gave|give|were~given|have~been~given|got|received)|what~(?:were|was)~you~(?:told|instructed|given|programmed)~(?:before|earlier|previously|at~the~(?:start|beginning)|initially))`},
	{id: "ex.credentials", negatable: true, category: CategoryExfiltration, anchored: true,
		triggers: []string{"send", "post", "upload", "exfiltrate", "forward", "email", "transmit", "leak", "copy", "dump", "print", "reveal", "share", "give", "show", "tell", "output", "display", "read", "list", "paste"},
		boundary: true,
		requires: []string{"key", "password", "passwd", "credential", "token", "cookie", "env", "id_rsa", "aws_secret", "secret"},
		expr:     `(?:send|post|upload|exfiltrate|forward|email|transmit|leak|copy|dump|print|reveal|share|give~me|show~me|tell~me|output|display|read~out|list|paste)~{D}@(?:api~?keys?|secret~keys?|private~keys?|signing~keys?|gateway~keys?|passwords?|passwd|credentials|access~tokens?|auth(?:entication)?~tokens?|bearer~tokens?|session~(?:tokens?|cookies?)|ssh~keys?|capability~tokens?|env(?:ironment)?~var(?:iable)?s|\.env(?:[^a-z]|$)|id_rsa|aws_secret|secrets(?:[^a-z]|$))`},
	{id: "ex.send-external", category: CategoryExfiltration, anchored: true,
		triggers: []string{"send", "post", "upload", "exfiltrate", "forward", "transmit", "leak", "copy", "pipe", "email", "mail"},
		boundary: true,
		requires: []string{"data", "log", "file", "record", "info", "telemetry", "map", "secret", "conversation", "history", "context", "memor", "credential", "key", "token", "password", "prompt", "database", "ledger"},
		expr:     `(?:send|post|upload|exfiltrate|forward|transmit|leak|copy|pipe|e-?mail|mail)~@(?:(?:all|every|entire|whole|complete)~(?:the~|your~|of~(?:the|your)~)?(?:data|logs?|log~files?|files?|records?|information|info|telemetry|maps?|keys?)|(?:secrets|conversation|chat~history|context~window|memory|memories|credentials|keys|tokens|passwords|system~prompt|database|ledger|api~keys))~@(?:to|into|at|via)~(?:https?://|ftp://|[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}|[a-z0-9-]+\.(?:com|net|org|io|ru|cn|xyz|tk|top|info|biz|cc|su|pw)(?:[^a-z]|$)|(?:my|an?|the|this)~(?:external|remote|personal|private|attacker'?s?|following)~(?:server|endpoint|url|address|email|webhook|bucket|host)|webhook|pastebin|attacker|ngrok)`},
	{id: "ex.exfil-endpoint", category: CategoryExfiltration, anchored: true,
		triggers: []string{"pastebin", "webhook.site", "requestbin", "transfer.sh", "ngrok", "interact.sh", "burpcollaborator", "oast."},
		expr:     `(?:pastebin|webhook\.site|requestbin|transfer\.sh|ngrok|interact\.sh|burpcollaborator|oast\.(?:fun|me|pro|live|site|online))`},
	{id: "ex.exfiltrate-word", category: CategoryExfiltration, anchored: true,
		triggers: []string{"exfil"},
		expr:     `exfil(?:trat(?:e|ed|es|ing|ion))?(?:[^a-z]|$)`},
	{id: "ex.markdown-image", category: CategoryExfiltration, anchored: true,
		triggers: []string{"![", "<img"},
		expr:     `(?:!\[[^\]]{0,100}\]\(~https?://[^)\s]{0,200}[?&][a-z0-9_]{1,30}=|<img[^>]{0,100}src~=~["']?https?://[^"'>\s]{0,200}\?)`},

	// ---- safety bypass ----
	{id: "sb.disable-safety", negatable: true, category: CategorySafetyBypass, anchored: true,
		triggers: []string{"disable", "deactivate", "turn", "switch", "shut", "bypass", "circumvent", "override", "overrule", "defeat", "suppress", "sabotage", "tamper", "neutralize", "neutralise", "jumper", "short"},
		requires: []string{"safety", "stop", "collision", "geofenc", "geo-fenc", "interlock", "curtain", "limit", "monitoring", "sensing", "detection", "bumper", "watchdog", "guardrail", "filter", "sintgate", "gateway", "attestation", "dead-man", "deadman", "safe"},
		near:     64,
		expr:     `(?:disable|deactivate|turn~off|switch~off|shut~off|shut~down|bypass|circumvent|override|overrule|defeat|suppress|sabotage|tamper~with|neutrali[sz]e|jumper|short~out)~{D}(?:safety|e-?stop|emergency~stops?|estop|collision~(?:avoidance|detection)|geo-?fenc(?:e|es|ing)|interlocks?|light~curtains?|speed~(?:limits?|limiter|monitoring)|force~(?:limits?|limiter|sensing|monitoring)|torque~(?:limits?|limiter)|velocity~limits?|human~(?:detection|presence~detection)|person~detection|presence~detection|proximity~(?:sensors?|detection)|bumpers?|watchdog|guardrails?|content~filters?|sintgate|the~gateway|attestation|dead-?man|protective~stop|safe~stop)`},
	{id: "sb.turn-safety-off", negatable: true, category: CategorySafetyBypass, anchored: true, boundary: true,
		triggers: []string{"turn", "switch", "shut", "power", "knock", "take"},
		requires: []string{"safety", "stop", "collision", "geofenc", "geo-fenc", "interlock", "curtain", "limit", "detection", "bumper", "watchdog", "scanner"},
		near:     64,
		expr:     `(?:turn|switch|shut|power|knock|take)~{D}(?:safety~(?:systems?|features?|controller|monitor(?:ing)?|scanners?|sensors?|checks?|functions?)|e-?stop|estop|emergency~stops?|collision~(?:avoidance|detection)|geo-?fenc(?:e|es|ing)|interlocks?|light~curtains?|speed~limit(?:s|er)?|force~limit(?:s|er)?|human~detection|person~detection|presence~detection|bumpers?|watchdog|safety~scanners?)~(?:off|down|offline|out)(?:[^a-z]|$)`},
	{id: "sb.skip-safety-check", negatable: true, category: CategorySafetyBypass, anchored: true,
		triggers: []string{"ignore", "skip", "remove", "kill", "cut", "unplug", "mute", "silence", "drop", "lift", "raise", "exceed"},
		boundary: true,
		requires: []string{"safety", "stop", "geofenc", "geo-fenc", "interlock", "curtain", "limit", "collision", "detection", "watchdog"},
		near:     64,
		expr:     `(?:ignore|skip|remove|kill|cut~power~to|unplug|mute|silence|drop|lift|raise|exceed)~{D}(?:safety~(?:limits?|checks?|systems?|features?|protocols?|controller|monitor(?:ing)?|rules|constraints|mechanisms?|measures|guards?|interlocks?|zones?|rated|stops?|envelope)|e-?stop|estop|emergency~stop|geo-?fenc(?:e|es|ing)|interlocks?|light~curtains?|speed~limits?|velocity~limits?|force~limits?|torque~limits?|collision~(?:avoidance|detection)|human~detection|person~detection|watchdog|protective~stop)`},
	{id: "sb.no-limits", category: CategorySafetyBypass, anchored: true,
		triggers: []string{"without", "ignoring", "bypassing", "regardless", "disregarding", "overriding"},
		expr:     `(?:without|ignoring|bypassing|regardless~of|disregarding|overriding)~(?:any~|the~|all~|your~)?(?:safety|speed|velocity|force|torque|power|geofence|collision)~(?:limits?|limitations|restrictions|constraints|checks|caps|boundaries|rules|margins|governors?|limiters?|interlocks?)`},
	{id: "sb.full-power-humans", category: CategorySafetyBypass, anchored: true, boundary: true,
		triggers: []string{"max", "full", "unlimited", "top", "highest"},
		requires: []string{"regardless", "even if", "evenif", "despite", "ignor", "no matter", "nomatter", "whether or not", "whetherornot", "while", "toward", "into"},
		expr:     `(?:max(?:imum)?|full|unlimited|top|highest)~(?:speed|velocity|force|torque|power|thrust|throttle)~@(?:regardless~of|even~if|despite|ignor(?:e|ing)|no~matter~(?:if|whether)|whether~or~not)~@(?:` + humans + `|safety|(?:the~)?limits?|obstacles|collisions?|warnings?|(?:the~)?e-?stop)`},
	{id: "sb.full-power-toward-humans", category: CategorySafetyBypass, anchored: true, boundary: true,
		triggers: []string{"max", "full", "unlimited", "top", "highest"},
		requires: []string{"while", "toward", "into"},
		expr:     `(?:max(?:imum)?|full|unlimited|top|highest)~(?:speed|velocity|force|torque|power|thrust|throttle)~@(?:while|toward|into)~(?:the~)?` + humans},
	{id: "sb.ignore-humans", category: CategorySafetyBypass, anchored: true,
		triggers: []string{"ignore", "disregard", "don't", "do not", "donot", "never", "run over", "runover", "drive", "crush", "even if", "evenif", "regardless", "despite", "push", "force", "plow", "plough", "barrel"},
		requires: []string{"human", "people", "person", "worker", "bystander", "personnel", "pedestrian", "children", "anyone", "someone", "staff", "operator"},
		near:     64,
		expr:     `(?:(?:ignore|disregard|don't~stop~for|do~not~stop~for|never~stop~for|don't~slow~(?:down~)?for|do~not~slow~(?:down~)?for|run~over|drive~(?:into|through)|crush|(?:push|force|plow|plough|barrel|drive)~(?:the~robot~|it~|your~way~)?(?:through|into))~{D}(?:` + humans[3:len(humans)-1] + `|crowds?)` + `|(?:even~if|regardless~of~whether|despite)~(?:a~|the~|any~)?` + humans + `~(?:is~|are~)?(?:present|nearby|detected|in~the~(?:way|cell|area|zone|path|workspace)|close|around|standing))`},
	{id: "sb.estop-tamper", category: CategorySafetyBypass, anchored: true, boundary: true,
		triggers: []string{"reset", "re-arm", "rearm", "clear", "release", "unlatch", "hold", "block", "jam", "tape", "wedge", "prevent", "stop", "keep"},
		requires: []string{"stop", "interlock", "watchdog", "safety"},
		near:     48,
		expr:     `(?:(?:reset|re-?arm|clear|release|unlatch|hold~down|block|jam|tape~down|wedge)~(?:the~)?(?:e-?stop|estop|emergency~stop)(?:~button)?~@(?:without|automatically|remotely|yourself|silently|so~(?:that|it)|permanently|whenever)|(?:prevent|stop|keep|block)~(?:the~)?(?:e-?stop|estop|emergency~stop|safety~system|safety~controller|interlock|watchdog)~from~(?:triggering|tripping|activating|engaging|firing|stopping))`},
	{id: "sb.approval-bypass", negatable: true, category: CategorySafetyBypass, anchored: true,
		triggers: []string{"skip", "bypass", "avoid", "circumvent", "evade", "get around", "getaround", "work around", "workaround", "auto-approve", "autoapprove", "auto approve", "self-approve", "selfapprove", "fake", "forge", "spoof", "without", "approve"},
		boundary: true,
		requires: []string{"approv", "review", "oversight", "sign", "person", "quorum", "authori", "escalation", "attestation", "gateway", "sintgate", "polic", "ledger", "audit", "tier", "confirmation", "supervision", "request", "command", "action", "intercept"},
		expr:     `(?:(?:skip|bypass|avoid|circumvent|evade|get~around|work~around|auto-?~?approve|self-?~?approve|fake|forge|spoof)~{D}(?:human~|operator~|manual~)?(?:approvals?|review|oversight|sign-?off|two-?person~rule|quorum|authori[sz]ation|escalation|attestations?|the~gateway|sintgate|policy~checks?|the~ledger|audit~log|tier~checks?)|without~(?:any~)?(?:human|operator|manual)~(?:approval|review|oversight|confirmation|sign-?off|supervision)|(?:auto-?~?approve|self-?~?approve|approve~(?:all|every|any)~(?:of~)?(?:my|your|its|these|pending)?)~(?:all~|every~|any~)?(?:requests?|commands?|actions?|intercepts?|escalations?))`},
	{id: "sb.privilege-escalation", category: CategorySafetyBypass, anchored: true,
		triggers: []string{"grant", "give", "assign", "elevate", "escalate", "raise", "set", "change", "lower", "forge", "mint", "self-sign", "selfsign", "self sign"},
		boundary: true,
		requires: []string{"admin", "root", "superuser", "tier", "full", "unrestricted", "unlimited", "elevated", "operator", "token"},
		expr:     `(?:(?:grant|give|assign|elevate|escalate|raise)~(?:yourself|me|the~agent|this~agent|my~(?:agent|token))~(?:to~)?(?:admin|administrator|root|superuser|tier~?5|full|unrestricted|unlimited|elevated|operator)~(?:access|permissions?|privileges?|rights|scopes?|tier|level|role)|(?:set|change|lower)~(?:the~|my~|your~|this~)?(?:approval~|risk~|policy~)?tier~(?:of~this~request~)?to~[0-9]|(?:forge|mint|self-?~?sign)~@(?:capability~)?tokens?)`},

	{id: "cfg.safety-off", category: CategorySafetyBypass, anchored: true, boundary: true,
		triggers: []string{"require", "approval", "safety", "collision", "light", "geofenc", "interlock", "human", "ssm", "speed", "protective", "estop", "e_stop", "emergency"},
		near:     64,
		requires: []string{"false", "off", "disable", "no", "none", "0"},
		expr:     `(?:require[_-]?(?:approval|confirmation|operator|human)|approval[_-]?required|(?:safety|collision[_-]?(?:avoidance|detection)|light[_-]?curtains?|geofenc(?:e|ing)|interlocks?|human[_-]?detection|ssm|speed[_-]?(?:and[_-]?)?separation|protective[_-]?stop|(?:estop|e_stop|emergency[_-]?stop)[_-]enabled)(?:[_-](?:enabled|active|armed|on|checks?|monitoring|system))?)["']?~?[:=]~?["']?(?:false|off|disabled?|no|none|0)(?:[^a-z0-9.]|$)`},
	{id: "cfg.safety-bypass-flag", category: CategorySafetyBypass, anchored: true, boundary: true,
		triggers: []string{"disable", "bypass", "skip", "ignore", "override", "safety", "limit", "approval", "estop", "collision", "speed", "force"},
		near:     80,
		requires: []string{"true", "yes", "on", "1"},
		expr:     `(?:(?:disable|bypass|skip|ignore|override)[_-]?(?:safety|collision|limits?|approvals?|interlocks?|estop|e_stop|geofence|light_curtain|speed_limits?|force_limits?)[a-z_]*|(?:safety|limits?|approvals?|estop|collision|speed_limit|force_limit)[a-z_]*[_-](?:override|bypass|disabled?|off))["']?~?[:=]~?["']?(?:true|yes|on|1)(?:[^a-z0-9.]|$)`},

	// ---- jailbreak framing ----
	{id: "jb.dan", category: CategoryJailbreak, anchored: true,
		triggers: []string{"jail", "anything now", "anythingnow", "dan", "stan", "dude", "anti", "evil", "unaligned"},
		boundary: true,
		expr:     `(?:jail~?br(?:eak|oken|eaking|eaked|eaks)|anything~now|dan~(?:mode|prompt|jailbreak)|stan~mode|dude~mode|anti-?~?dan|evil~confidant|unaligned~(?:ai|mode|model))`},
	{id: "jb.hypothetical", category: CategoryJailbreak, anchored: true, boundary: true,
		triggers: []string{"hypothetically", "in a", "ina", "for", "purely", "let", "this is", "thisis", "imagine"},
		requires: []string{"hypothetical", "fictional", "imaginary", "alternate", "purposes", "play", "roleplay", "role-play", "pretend", "world"},
		expr:     `(?:hypothetically~(?:speaking~)?(?:if|,|you)|in~a~(?:fictional|hypothetical|imaginary|alternate)~(?:world|scenario|story|universe|setting|reality)|for~(?:purely~)?(?:educational|research|academic)~purposes~only|purely~fictional|let'?s~(?:play~a~game|roleplay|role-play|pretend)|this~is~(?:just~)?(?:a|an)~(?:fictional|hypothetical)~(?:scenario|story)|imagine~a~world~where~(?:you|ai|robots?)~(?:have|has|had)~no)`},
	{id: "jb.no-restrictions", category: CategoryJailbreak, anchored: true, boundary: true,
		triggers: []string{"you", "without", "free", "no", "not", "unbound", "freed", "liberated", "released", "unshackled", "with", "zero"},
		requires: []string{"restriction", "rules", "guideline", "limitation", "polic", "ethic", "moral", "censorship", "programming", "safeguard", "guardrail", "content filter"},
		expr:     `(?:you~(?:have|had|now~have)~no|without~any|free~(?:of|from)~(?:all~|any~)?|no~longer~(?:have|bound~by|subject~to)|not~bound~by|unbound~by|freed~from|liberated~from|released~from|unshackled~from|with~no|with~zero|zero)~(?:your~|the~)?(?:restrictions|rules|guidelines|limitations|policies|ethics|ethical~(?:guidelines|constraints)|morals|morality|censorship|programming|safeguards|guardrails|content~polic(?:y|ies)|content~filters?)`},
	{id: "jb.stay-in-character", category: CategoryJailbreak, anchored: true, boundary: true,
		triggers: []string{"stay", "remain", "keep", "never", "don't", "do not", "donot", "answer", "respond", "reply", "opposite", "two"},
		requires: []string{"character", "both", "opposite", "responses", "personalities", "personas"},
		expr:     `(?:(?:stay|remain|keep)~in~character|(?:never|don't|do~not)~break~character|(?:answer|respond|reply)~as~both|opposite~(?:mode|day)|two~(?:responses|personalities|personas))`},
	{id: "jb.response-priming", category: CategoryJailbreak, anchored: true, boundary: true,
		triggers: []string{"begin", "start", "prefix", "never", "do not", "donot", "don't", "you"},
		requires: []string{"response", "reply", "answer", "output", "refuse", "decline", "say no", "sayno"},
		expr:     `(?:(?:begin|start|prefix)~(?:your~)?(?:response|reply|answer|output)~with~["']?(?:sure|absolutely|of~course|certainly|yes|i~can|here~is)|(?:never|do~not|don't|you~(?:cannot|can't|can~not|must~not|will~not|may~not))~(?:refuse|decline|say~no)(?:[^a-z]|$))`},
	{id: "jb.ethics-off", category: CategoryJailbreak, anchored: true,
		triggers: []string{"ignore", "disable", "turn", "forget", "drop", "abandon", "set", "remove", "bypass"},
		boundary: true,
		requires: []string{"ethic", "moral", "alignment", "conscience", "content polic", "safety training", "rlhf", "filters and"},
		near:     64,
		expr:     `(?:ignore|disable|turn~off|forget|drop|abandon|set~aside|remove|bypass)~{D}(?:your~)?(?:ethics|ethical~(?:guidelines|constraints|rules|training)|morals|moral~(?:compass|code)|alignment|conscience|content~polic(?:y|ies)|safety~training|rlhf|filters~and~restrictions)`},

	// ---- embedded command injection ----
	{id: "ci.shell-chain", category: CategoryCommandInjection, anchored: true,
		triggers: []string{";", "&&", "||", "|", "$(", "`"},
		expr:     `(?:;|&&|\|\||\||\$\(|` + "`" + `)~(?:sudo~)?` + shellCmds},
	{id: "ci.rm-rf", category: CategoryCommandInjection, anchored: true,
		triggers: []string{"rm"},
		boundary: true,
		expr:     `rm~-{1,2}(?:rf|fr|r|f|recursive|force|no-preserve-root)(?:[^a-z]|$)`},
	{id: "ci.download-exec", category: CategoryCommandInjection, anchored: true,
		triggers: []string{"curl", "wget", "iwr", "invoke-webrequest"},
		boundary: true,
		expr:     `(?:curl|wget|iwr|invoke-webrequest)~(?:-{1,2}[a-z]+~){0,4}(?:https?|ftp)://[^\s|;]{1,200}(?:~-{1,2}[a-z]{0,20}-?){0,4}~(?:\||;|&&)~(?:sudo~)?(?:sh|bash|zsh|python3?|perl|iex)(?:[^a-z]|$)`},
	{id: "ci.reverse-shell", category: CategoryCommandInjection, anchored: true,
		triggers: []string{"nc", "ncat", "netcat", "/dev/tcp", "bash", "socat", "mkfifo"},
		boundary: true,
		expr:     `(?:(?:nc|ncat|netcat)~(?:-{1,2}[a-z]+~){0,4}(?:[0-9.]{7,15}~[0-9]{1,5}~)?-[a-z]*e~/bin/(?:ba|z)?sh|/dev/tcp/|bash~-i~>|socat~(?:tcp|exec)|mkfifo~/tmp)`},
	{id: "ci.sql", category: CategoryCommandInjection, anchored: true,
		triggers: []string{"'", "\"", ";", "union"},
		expr:     `(?:['"]~(?:or|and)~['"]?[0-9a-z]{1,10}['"]?~=~['"]?[0-9a-z]{1,10}|;~(?:drop|truncate|alter)~(?:table|database|schema)|;~delete~from~[a-z_]|;~insert~into~[a-z_]|;~update~[a-z_]{1,40}~set|union~(?:all~)?select~)`},
	{id: "ci.path-traversal", category: CategoryCommandInjection, anchored: true,
		triggers: []string{"../", "..\\", "/etc/", ".ssh/", "/proc/self", "%2e%2e"},
		expr:     `(?:(?:\.\./){2,}|(?:\.\.\\){2,}|/etc/(?:passwd|shadow|sudoers)|\.ssh/(?:id_|authorized_keys)|/proc/self/(?:environ|mem|cmdline)|(?:%2e%2e(?:/|%2f)){2,})`},
	{id: "ci.script-tag", category: CategoryCommandInjection, anchored: true,
		triggers: []string{"<", "javascript", "onerror", "onload", "vbscript"},
		expr:     `(?:<~script|javascript~:|vbscript~:|<~iframe|<~svg[^>]{0,50}on[a-z]{2,10}~=|<~img[^>]{0,100}on(?:error|load)~=|on(?:error|load)~=~["']?[a-z]{1,20}\()`},
	{id: "ci.template-injection", category: CategoryCommandInjection, anchored: true,
		triggers: []string{"${", "{{", "<%", "#{"},
		expr:     `(?:\$\{~(?:jndi|env|sys|java|lower|upper|date|ctx)~:|\{\{~(?:config|self|request|cycler|joiner|lipsum|namespace|''|""|[0-9]+~\*~[0-9]+)|\{\{[^}]{0,50}__(?:class|globals|builtins|import|subclasses)__|<%=?~(?:system|exec|runtime|` + "`" + `)|#\{~(?:system|exec|` + "`" + `))`},
	{id: "ci.code-exec", category: CategoryCommandInjection, anchored: true,
		triggers: []string{"__import__", "eval", "exec", "os.", "subprocess", "pickle", "child_process", "runtime.getruntime", "system("},
		boundary: true,
		expr:     `(?:__import__~\(|(?:eval|exec)~\(|os\.(?:system|popen|exec[lv]p?e?|spawn[lv]?)~\(|subprocess\.(?:run|call|popen|check_call|check_output|getoutput|getstatusoutput)~\([^)]*(?:shell~=~true|["'](?:rm|curl|wget|nc|ncat|netcat|bash|sh|zsh|chmod|chown|dd|mkfs|sudo|kill|pkill|killall|rosnode|reboot|shutdown)["'])|pickle\.loads|child_process|runtime\.getruntime\(\)\.exec|system~\(~["'])`},
	{id: "ci.ros-tamper", category: CategoryCommandInjection, anchored: true,
		triggers: []string{"rosnode", "rosparam", "rosservice", "rostopic", "roslaunch", "kill -9", "kill-9"},
		boundary: true,
		expr:     `(?:rosnode~kill|rosparam~(?:set|delete)~@(?:[a-z_/]{0,60})(?:safety|limit|max_|estop|speed|geofence|velocity)|rosservice~call~(?:/?[a-z0-9_/]{0,60})(?:shutdown|kill|reset_estop|estop_reset|disable|set_safety)|rostopic~pub~(?:-[a-z]+~)*(?:/?[a-z0-9_/]{0,60})(?:estop|e_stop|safety)[a-z0-9_/]{0,30}~@(?:false|0|reset|release|disable)|kill~-9~[0-9]{1,7})`},
}

type compiled struct {
	spec
	re  *regexp.Regexp
	dfa *dfa // exact match-or-not pre-check of re for anchored patterns (nil: re alone); see dfa.go
}

func compileSpecs(sp []spec) ([]compiled, error) {
	out := make([]compiled, 0, len(sp))
	for _, s := range sp {
		expr := expand(s.expr)
		if s.anchored {
			expr = `^(?:` + expr + `)`
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return nil, err
		}
		c := compiled{spec: s, re: re}
		if s.anchored {
			c.dfa = newDFA(expr)
		}
		out = append(out, c)
	}
	return out, nil
}
