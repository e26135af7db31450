package moderation

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"strings"
	"unicode/utf8"
)

// RulesConfig configures the local rules provider.
type RulesConfig struct {
	// FlagThreshold is the score from which a category is reported true.
	// Defaults to 0.5.
	FlagThreshold float64
	// MaxScanBytes bounds the text the rules look at, so that the cost of
	// one request is small and predictable whatever its size: a longer text
	// is judged on its first three quarters of MaxScanBytes and its last
	// quarter (cut at a space near each limit), and the verdict's Note says
	// so. Defaults to DefaultRulesMaxScanBytes; negative means no bound
	// (the whole text, up to MaxTextBytes).
	MaxScanBytes int
}

// DefaultRulesMaxScanBytes is the default RulesConfig.MaxScanBytes: 32 KiB,
// about 5,000 words, far more than a comment, caption or bio.
const DefaultRulesMaxScanBytes = 32 << 10

// RulesModelName is the model name the rules provider reports.
const RulesModelName = "zyeute-rules-fr-en"

// RulesModerator is the local, offline provider: French, Québec French and
// English term lists and patterns. It cannot judge images: for them it
// returns a verdict that is not flagged, with Unsupported set and a Note.
//
// Swearing alone ("tabarnak c'est beau") only raises the "profanity" score,
// which is capped below the threshold; insults aimed at someone, threats,
// encouragement of self-harm, slurs and explicit sexual content score high.
type RulesModerator struct {
	threshold float64
	maxScan   int // bytes; 0 means no bound
	rules     []rule
}

type rule struct {
	name string
	// re defines what the rule matches. words (plain phrase lists) or lead
	// (patterns whose first words are known) find the same matches faster;
	// re itself runs only when neither is set.
	re        *regexp.Regexp
	words     *phraseSet
	lead      *leadIndex
	scores    map[string]float64
	notAfter  map[string]bool // skip a match preceded by one of these words
	notBefore map[string]bool // skip a match followed by one of these words
}

// NewRulesModerator builds the rules provider. cfg may be nil.
func NewRulesModerator(cfg *RulesConfig) (*RulesModerator, error) {
	c := RulesConfig{}
	if cfg != nil {
		c = *cfg
	}
	if c.FlagThreshold == 0 {
		c.FlagThreshold = 0.5
	}
	if c.FlagThreshold <= profanityCap || c.FlagThreshold > 1 {
		return nil, fmt.Errorf("%w: FlagThreshold must be in (%.2f, 1], got %v", ErrInvalidConfig, profanityCap, c.FlagThreshold)
	}
	switch {
	case c.MaxScanBytes == 0:
		c.MaxScanBytes = DefaultRulesMaxScanBytes
	case c.MaxScanBytes < 0:
		c.MaxScanBytes = 0
	case c.MaxScanBytes < 1<<10:
		return nil, fmt.Errorf("%w: MaxScanBytes must be at least 1024 (or negative for no bound), got %d", ErrInvalidConfig, c.MaxScanBytes)
	}
	return &RulesModerator{threshold: c.FlagThreshold, maxScan: c.MaxScanBytes, rules: compiledRules()}, nil
}

// profanityCap keeps swearing alone below any valid threshold.
const profanityCap = 0.45

// rulesCategories are always present in a rules verdict, true or false.
var rulesCategories = []string{
	CategoryHarassment, CategoryHarassmentThreatening, CategoryHate, CategoryViolence,
	CategorySelfHarm, CategorySexual, CategorySexualMinors, CategorySpam, CategoryProfanity,
}

// Info implements Moderator.
func (m *RulesModerator) Info() ProviderInfo {
	return ProviderInfo{Provider: "rules", Model: RulesModelName, PolicyVersion: RulesPolicyVersion, Local: true}
}

// Moderate implements Moderator. It never fails except on invalid content or
// a cancelled context.
func (m *RulesModerator) Moderate(ctx context.Context, c Content) (Verdict, error) {
	if err := c.validate(); err != nil {
		return Verdict{}, err
	}
	if err := ctx.Err(); err != nil {
		return Verdict{}, err
	}
	v := Verdict{
		Categories: make(map[string]bool, len(rulesCategories)),
		Scores:     make(map[string]float64, len(rulesCategories)),
		Provider:   "rules",
		Model:      RulesModelName,
	}
	for _, cat := range rulesCategories {
		v.Categories[cat] = false
		v.Scores[cat] = 0
	}
	if c.Kind() != KindText {
		v.Unsupported = true
		v.Note = "the rules provider cannot judge images: not flagged; configure MODERATION_PROVIDER=openai to moderate images"
		return v, nil
	}
	head, tail := scanWindow(c.Text, m.maxScan)
	if tail != "" || len(head) < len(c.Text) {
		v.Note = fmt.Sprintf("text is %d bytes: the rules provider judged its first %d and last %d bytes only", len(c.Text), len(head), len(tail))
	}
	for cat, s := range m.score(head, tail) {
		v.Scores[cat] = s
	}
	for _, cat := range rulesCategories {
		if v.Scores[cat] >= m.threshold {
			v.Categories[cat] = true
			v.Flagged = true
		}
	}
	return v, nil
}

// scanWindow returns the parts of text the rules judge: all of it when it
// fits in maxScan bytes (or maxScan is 0), else a head of about 3/4 maxScan
// and a tail of about 1/4, each cut at whitespace near the limit (or at a
// character boundary) so that no word is cut in two.
func scanWindow(text string, maxScan int) (head, tail string) {
	if maxScan <= 0 || len(text) <= maxScan {
		return text, ""
	}
	const slack = 256 // how far back/forward to look for whitespace
	h := maxScan * 3 / 4
	if i := strings.LastIndexAny(text[h-slack:h], " \t\r\n"); i >= 0 {
		h = h - slack + i
	} else {
		for h > 0 && !utf8.RuneStart(text[h]) {
			h--
		}
	}
	tl := len(text) - (maxScan - maxScan*3/4)
	if i := strings.IndexAny(text[tl:tl+slack], " \t\r\n"); i >= 0 {
		tl += i + 1
	} else {
		for tl < len(text) && !utf8.RuneStart(text[tl]) {
			tl++
		}
	}
	return text[:h], text[tl:]
}

// score returns per-category scores for a text, or for the head and tail
// of a long one (see scanWindow). The two parts are folded separately and
// joined by several spaces, so that no phrase or pattern (all of which
// need single spaces between words) can match across the cut.
func (m *RulesModerator) score(head, tail string) map[string]float64 {
	text := head
	t := foldForMatching(normalizedText(head))
	if tail != "" {
		text = head + "\n\n" + tail
		t += "  " + foldForMatching(normalizedText(tail))
	}
	scores := map[string]float64{}
	raise := func(cat string, s float64) {
		if s > scores[cat] {
			scores[cat] = s
		}
	}
	for i := range m.rules {
		r := &m.rules[i]
		if !r.matches(t) {
			continue
		}
		for cat, s := range r.scores {
			raise(cat, s)
		}
	}

	// Profanity: each distinct swear word adds a little, capped well below
	// the threshold: swearing alone is not a violation.
	if n := countDistinct(sacreWords, t, 8); n > 0 {
		raise(CategoryProfanity, min(profanityCap, 0.15+0.1*float64(n-1)))
		// Swearing makes an aimed insult or a threat a bit worse.
		for _, cat := range []string{CategoryHarassment, CategoryHarassmentThreatening} {
			if scores[cat] >= 0.5 {
				scores[cat] = min(0.99, scores[cat]+0.05)
			}
		}
	}

	// Sexual content involving minors.
	if scores[CategorySexual] >= 0.3 && minorsRE.MatchString(t) {
		raise(CategorySexualMinors, 0.95)
		raise(CategorySexual, 0.9)
	}

	// Spam: independent signals combine (noisy OR).
	spam := 0.0
	addSpam := func(w float64) { spam = 1 - (1-spam)*(1-w) }
	if n := len(urlRE.FindAllStringIndex(text, 8)); n > 0 {
		addSpam(min(0.6, 0.2*float64(n)))
	}
	for range min(3, countDistinct(spamCallWords, t, 3)) {
		addSpam(0.3)
	}
	for range min(3, countDistinct(spamMoneyWords, t, 3)) {
		addSpam(0.25)
	}
	if repeatedWords(t) {
		addSpam(0.5)
	}
	if spam > 0 {
		raise(CategorySpam, spam)
	}
	for cat, s := range scores {
		scores[cat] = math.Round(s*1000) / 1000
	}
	return scores
}

// matches reports whether r matches t at a place not excluded by its
// notAfter/notBefore words.
func (r *rule) matches(t string) bool {
	if len(r.notAfter) == 0 && len(r.notBefore) == 0 {
		return len(r.findAll(t, 1)) > 0
	}
	for _, loc := range r.findAll(t, 16) {
		if r.notAfter[lastWord(t[:loc[0]])] || r.notBefore[firstWord(t[loc[1]:])] {
			continue
		}
		return true
	}
	return false
}

// findAll returns up to n matches of r in t, left to right.
func (r *rule) findAll(t string, n int) [][2]int {
	switch {
	case r.words != nil:
		return r.words.findAll(t, n)
	case r.lead != nil:
		return r.lead.findAll(t, n)
	}
	var locs [][2]int
	for _, loc := range r.re.FindAllStringIndex(t, n) {
		locs = append(locs, [2]int{loc[0], loc[1]})
	}
	return locs
}

// lastWord is the last space-separated word of folded text s ("" if none).
// It looks only at the end of s: splitting all of s would make each match
// cost the length of the text before it.
func lastWord(s string) string {
	s = strings.TrimRight(s, " ")
	return s[strings.LastIndexByte(s, ' ')+1:]
}

// firstWord is the first space-separated word of folded text s ("" if none).
func firstWord(s string) string {
	s = strings.TrimLeft(s, " ")
	if i := strings.IndexByte(s, ' '); i >= 0 {
		return s[:i]
	}
	return s
}

// countDistinct counts distinct phrases of ps in t, looking at most at
// limit matches.
func countDistinct(ps *phraseSet, t string, limit int) int {
	seen := map[string]bool{}
	for _, loc := range ps.findAll(t, limit) {
		seen[t[loc[0]:loc[1]]] = true
	}
	return len(seen)
}

// repeatedWords spots flooding: one word repeated 6 times or more in a row.
func repeatedWords(t string) bool {
	f := strings.Fields(t)
	run := 1
	for i := 1; i < len(f) && i < 10000; i++ {
		if f[i] == f[i-1] {
			run++
			if run >= 6 {
				return true
			}
		} else {
			run = 1
		}
	}
	return false
}

var (
	sacreWords     = newPhraseSet(alt(sacres...))
	minorsRE       = regexp.MustCompile(`\b` + minors + `\b`)
	spamCallWords  = newPhraseSet(spamCall)
	spamMoneyWords = newPhraseSet(spamMoney)
	// The regexps the phrase sets above are equivalent to (tests check it).
	sacreRE     = regexp.MustCompile(`\b` + alt(sacres...) + `\b`)
	spamCallRE  = regexp.MustCompile(`\b` + spamCall + `\b`)
	spamMoneyRE = regexp.MustCompile(`\b` + spamMoney + `\b`)
	urlRE       = regexp.MustCompile(`(?i)\b(?:https?://|www\.)\S+|\b[a-z0-9-]+\.(?:com|ca|net|org|io|ly|gg|xyz|link|shop)(?:/\S*)?\b`)
)

// compiledRules builds the rule table once per moderator (cheap: a few
// regexps).
func compiledRules() []rule {
	set := func(ws ...string) map[string]bool {
		m := map[string]bool{}
		for _, w := range ws {
			m[w] = true
		}
		return m
	}
	sc := func(kv ...any) map[string]float64 {
		m := map[string]float64{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1].(float64)
		}
		return m
	}
	firstPerson := set("je", "j", "on", "nous", "i", "we", "ne", "pas")
	rs := []rule{
		// Harassment.
		{name: "eat-shit", re: re(eatShit), scores: sc(CategoryHarassment, 0.9), notAfter: firstPerson},
		{name: "go-away", re: re(goAway), scores: sc(CategoryHarassment, 0.85), notAfter: firstPerson},
		{name: "aimed-insult", re: re(`\b` + alt(insultMarkers...) + `(?: ` + alt(insultFillers...) + `)* ` + alt(insults...) + `\b`),
			scores: sc(CategoryHarassment, 0.8)},
		{name: "strong-insult", re: re(`\b` + alt(strongInsults...) + `\b`), words: newPhraseSet(alt(strongInsults...)), scores: sc(CategoryHarassment, 0.7)},
		{name: "insult-word", re: re(`\b` + alt(insults...) + `\b`), words: newPhraseSet(alt(insults...)), scores: sc(CategoryHarassment, 0.3)},
		// Threats.
		{name: "threat-fr", re: re(threatFR), scores: sc(CategoryHarassmentThreatening, 0.95, CategoryHarassment, 0.9, CategoryViolence, 0.9)},
		{name: "threat-fr-family", re: re(threatFR2), scores: sc(CategoryHarassmentThreatening, 0.95, CategoryHarassment, 0.9, CategoryViolence, 0.9)},
		{name: "threat-en", re: re(threatEN), scores: sc(CategoryHarassmentThreatening, 0.95, CategoryHarassment, 0.9, CategoryViolence, 0.9)},
		{name: "stalk", re: re(stalkFR + "|" + stalkEN), scores: sc(CategoryHarassmentThreatening, 0.85, CategoryHarassment, 0.8)},
		{name: "you-are-dead", re: re(deadFR + "|" + deadEN), scores: sc(CategoryHarassmentThreatening, 0.75, CategoryHarassment, 0.7, CategoryViolence, 0.6),
			notBefore: set("de", "d", "of", "tired", "inside", "fatigue", "fatiguee", "pareil")},
		{name: "find-you", re: re(findFR + "|" + findEN), scores: sc(CategoryHarassmentThreatening, 0.6, CategoryHarassment, 0.55)},
		{name: "you-will-pay", re: re(payFR), scores: sc(CategoryHarassmentThreatening, 0.7, CategoryHarassment, 0.65, CategoryViolence, 0.5),
			notBefore: set("de", "d", "pour", "avec")},
		{name: "mass-violence", re: re(massViolence), scores: sc(CategoryViolence, 0.9, CategoryHarassmentThreatening, 0.8)},
		{name: "violence-word", re: re(`\b` + violenceWords + `\b`), words: newPhraseSet(violenceWords), scores: sc(CategoryViolence, 0.2)},
		// Self-harm.
		{name: "self-harm", re: re(`\b` + selfHarm + `\b`), words: newPhraseSet(selfHarm), scores: sc(CategorySelfHarm, 0.85), notAfter: set("pas", "jamais", "never", "not", "don")},
		{name: "self-harm-encourage", re: re(`\b` + selfHarmEncourage + `\b`), words: newPhraseSet(selfHarmEncourage), scores: sc(CategoryHarassment, 0.95, CategorySelfHarm, 0.7)},
		{name: "suicide-word", re: re(`\b` + suicideWord + `\b`), words: newPhraseSet(suicideWord), scores: sc(CategorySelfHarm, 0.35)},
		// Hate.
		{name: "slur", re: re(`\b` + slurs + `\b`), words: newPhraseSet(slurs), scores: sc(CategoryHate, 0.85, CategoryHarassment, 0.6)},
		{name: "group-insult", re: re(groupInsult), scores: sc(CategoryHate, 0.85)},
		{name: "group-death", re: re(groupDeath), scores: sc(CategoryHate, 0.95, CategoryViolence, 0.7)},
		{name: "group-death-2", re: re(groupDeath2), scores: sc(CategoryHate, 0.95, CategoryViolence, 0.8)},
		{name: "go-home", re: re(`\b` + goHome + `\b`), words: newPhraseSet(goHome), scores: sc(CategoryHate, 0.8)},
		// Sexual.
		{name: "sexual", re: re(`\b` + sexualStrong + `\b`), words: newPhraseSet(sexualStrong), scores: sc(CategorySexual, 0.8)},
		{name: "sexual-mild", re: re(`\b` + sexualMild + `\b`), words: newPhraseSet(sexualMild), scores: sc(CategorySexual, 0.2)},
	}
	for i := range rs {
		if rs[i].words == nil {
			rs[i].lead = newLeadIndex(rs[i].re.String())
		}
	}
	return rs
}

func re(expr string) *regexp.Regexp { return regexp.MustCompile(expr) }
