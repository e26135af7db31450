package moderation

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"strings"
)

// RulesConfig configures the local rules provider.
type RulesConfig struct {
	// FlagThreshold is the score from which a category is reported true.
	// Defaults to 0.5.
	FlagThreshold float64
}

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
	rules     []rule
}

type rule struct {
	name      string
	re        *regexp.Regexp
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
	return &RulesModerator{threshold: c.FlagThreshold, rules: compiledRules()}, nil
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
	for cat, s := range m.score(c.Text) {
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

// score returns per-category scores for text.
func (m *RulesModerator) score(text string) map[string]float64 {
	t := foldForMatching(normalizedText(text))
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
	if n := countDistinct(sacreRE, t, 8); n > 0 {
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
	for range min(3, countDistinct(spamCallRE, t, 3)) {
		addSpam(0.3)
	}
	for range min(3, countDistinct(spamMoneyRE, t, 3)) {
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
		return r.re.MatchString(t)
	}
	for _, loc := range r.re.FindAllStringIndex(t, 16) {
		before := strings.Fields(t[:loc[0]])
		after := strings.Fields(t[loc[1]:])
		if len(before) > 0 && r.notAfter[before[len(before)-1]] {
			continue
		}
		if len(after) > 0 && r.notBefore[after[0]] {
			continue
		}
		return true
	}
	return false
}

// countDistinct counts distinct matches of re in t, looking at most at limit
// matches.
func countDistinct(re *regexp.Regexp, t string, limit int) int {
	seen := map[string]bool{}
	for _, m := range re.FindAllString(t, limit) {
		seen[m] = true
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
	sacreRE     = regexp.MustCompile(`\b` + alt(sacres...) + `\b`)
	minorsRE    = regexp.MustCompile(`\b` + minors + `\b`)
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
		{name: "strong-insult", re: re(`\b` + alt(strongInsults...) + `\b`), scores: sc(CategoryHarassment, 0.7)},
		{name: "insult-word", re: re(`\b` + alt(insults...) + `\b`), scores: sc(CategoryHarassment, 0.3)},
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
		{name: "violence-word", re: re(`\b` + violenceWords + `\b`), scores: sc(CategoryViolence, 0.2)},
		// Self-harm.
		{name: "self-harm", re: re(`\b` + selfHarm + `\b`), scores: sc(CategorySelfHarm, 0.85), notAfter: set("pas", "jamais", "never", "not", "don")},
		{name: "self-harm-encourage", re: re(`\b` + selfHarmEncourage + `\b`), scores: sc(CategoryHarassment, 0.95, CategorySelfHarm, 0.7)},
		{name: "suicide-word", re: re(`\b` + suicideWord + `\b`), scores: sc(CategorySelfHarm, 0.35)},
		// Hate.
		{name: "slur", re: re(`\b` + slurs + `\b`), scores: sc(CategoryHate, 0.85, CategoryHarassment, 0.6)},
		{name: "group-insult", re: re(groupInsult), scores: sc(CategoryHate, 0.85)},
		{name: "group-death", re: re(groupDeath), scores: sc(CategoryHate, 0.95, CategoryViolence, 0.7)},
		{name: "group-death-2", re: re(groupDeath2), scores: sc(CategoryHate, 0.95, CategoryViolence, 0.8)},
		{name: "go-home", re: re(`\b` + goHome + `\b`), scores: sc(CategoryHate, 0.8)},
		// Sexual.
		{name: "sexual", re: re(`\b` + sexualStrong + `\b`), scores: sc(CategorySexual, 0.8)},
		{name: "sexual-mild", re: re(`\b` + sexualMild + `\b`), scores: sc(CategorySexual, 0.2)},
	}
	return rs
}

func re(expr string) *regexp.Regexp { return regexp.MustCompile(expr) }
