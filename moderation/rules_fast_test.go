package moderation

import (
	"context"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestFastMatchersAgreeWithRegexps checks that the phrase sets and the
// lead-word indexes find exactly the matches of the regexps that define the
// rules, on many random texts made of the rules' own words (so that matches,
// near misses and overlaps are frequent) with spaces, punctuation, accents
// and non-ASCII letters between them.
func TestFastMatchersAgreeWithRegexps(t *testing.T) {
	// Not parallel: heavy (CPU, sockets), so it runs before the parallel
	// tests instead of starving their Redis round trips.
	m, err := NewRulesModerator(nil)
	if err != nil {
		t.Fatal(err)
	}
	var vocab []string
	for _, list := range [][]string{sacres, insults, strongInsults, insultMarkers, insultFillers} {
		for _, p := range list {
			vocab = append(vocab, strings.Fields(p)...)
		}
	}
	for _, expr := range []string{eatShit, goAway, threatFR, threatFR2, stalkFR, stalkEN, deadFR, deadEN, findFR, findEN,
		payFR, threatEN, massViolence, violenceWords, selfHarm, selfHarmEncourage, suicideWord, slurs, groupInsult,
		groupDeath, groupDeath2, goHome, sexualStrong, sexualMild, spamCall, spamMoney} {
		vocab = append(vocab, regexp.MustCompile(`[a-z0-9]+`).FindAllString(expr, -1)...)
	}
	vocab = append(vocab, "mangez", "ø", "é", "l'", "—", "42", "manger")
	// Whole phrases, so that multi-word patterns match often.
	chunks := []string{"je vais te tuer", "j'vais te tuer", "m'as te crisser une volée", "je vais tuer ta mère",
		"I'm going to kill you", "i will find you", "je sais où tu restes", "i know where you live", "t'es mort",
		"you're dead", "je vais te retrouver", "tu vas payer", "tu vas payer de ta vie", "je vais tous les tuer",
		"i'm gonna kill everyone", "je veux mourir", "je veux pas mourir", "all immigrants should die",
		"les immigrés devraient disparaître", "mort aux juifs", "sales immigrés", "mange d'la marde",
		"je mange de la marde", "va chier", "allez vous faire foutre", "t'es un ostie de cave", "you are an idiot",
		"send nudes", "click here", "free money"}
	for _, list := range [][]string{sacres, insults, strongInsults} {
		chunks = append(chunks, list...)
	}
	seps := []string{" ", " ", " ", " ", "  ", ", ", "'", "-", "ø", "!"}
	r := rand.New(rand.NewPCG(10, 7))
	type matcher struct {
		name string
		re   *regexp.Regexp
		fast func(t string, n int) [][2]int
	}
	var ms []matcher
	for i := range m.rules {
		rl := &m.rules[i]
		if rl.words == nil && rl.lead == nil {
			t.Errorf("rule %s runs its regexp on the whole text", rl.name)
			continue
		}
		ms = append(ms, matcher{rl.name, rl.re, rl.findAll})
	}
	ms = append(ms,
		matcher{"sacres", sacreRE, sacreWords.findAll},
		matcher{"spam-call", spamCallRE, spamCallWords.findAll},
		matcher{"spam-money", spamMoneyRE, spamMoneyWords.findAll})
	matched := map[string]int{}
	for range 800 {
		var b strings.Builder
		for range 1 + r.IntN(30) {
			if r.IntN(3) == 0 {
				b.WriteString(chunks[r.IntN(len(chunks))])
			} else {
				b.WriteString(vocab[r.IntN(len(vocab))])
			}
			b.WriteString(seps[r.IntN(len(seps))])
		}
		text := foldForMatching(b.String())
		for _, mt := range ms {
			for _, n := range []int{-1, 1, 16} {
				var want [][2]int
				for _, loc := range mt.re.FindAllStringIndex(text, n) {
					want = append(want, [2]int{loc[0], loc[1]})
				}
				if got := mt.fast(text, n); !slices.Equal(got, want) {
					t.Fatalf("%s on %q (n=%d): fast %v, regexp %v", mt.name, text, n, got, want)
				}
				if n < 0 && len(want) > 0 {
					matched[mt.name]++
				}
			}
		}
	}
	// The texts must exercise the matchers, not just agree on "no match".
	for _, mt := range ms {
		if matched[mt.name] == 0 {
			t.Logf("%s never matched", mt.name)
		}
	}
	if len(matched) < len(ms)*3/4 {
		t.Fatalf("only %d of %d matchers ever matched: %v", len(matched), len(ms), matched)
	}
}

// TestRulesScanBound: a text longer than MaxScanBytes is judged on its head
// and tail only, the verdict says so, and nothing across the cut matches.
func TestRulesScanBound(t *testing.T) {
	t.Parallel()
	m, err := NewRulesModerator(nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	filler := strings.Repeat("la poutine était bonne hier soir au chalet ", 2000) // ~88 KB
	cases := []struct {
		name, text string
		flagged    bool
	}{
		{"insult first", "t'es un ostie de cave. " + filler, true},
		{"insult last", filler + " t'es un ostie de cave", true},
		{"insult in the middle, not scanned", filler[:len(filler)/2] + " t'es un ostie de cave " + filler[len(filler)/2:], false},
	}
	for _, c := range cases {
		v, err := m.Moderate(ctx, Content{Text: c.text})
		if err != nil {
			t.Fatal(err)
		}
		if v.Flagged != c.flagged || !strings.Contains(v.Note, "judged its first") {
			t.Errorf("%s: flagged=%v note=%q, want flagged=%v and a note", c.name, v.Flagged, v.Note, c.flagged)
		}
	}
	// Short texts: no note. Unbounded configuration: the middle is scanned.
	if v, _ := m.Moderate(ctx, Content{Text: "t'es un ostie de cave"}); v.Note != "" {
		t.Errorf("short text note = %q", v.Note)
	}
	all, err := NewRulesModerator(&RulesConfig{MaxScanBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := all.Moderate(ctx, Content{Text: cases[2].text}); !v.Flagged || v.Note != "" {
		t.Errorf("unbounded: flagged=%v note=%q", v.Flagged, v.Note)
	}
	if _, err := NewRulesModerator(&RulesConfig{MaxScanBytes: 100}); err == nil {
		t.Error("MaxScanBytes 100 accepted")
	}
	// The window never exceeds the bound and never cuts a word or a rune.
	text := strings.Repeat("é", 50000) + " " + strings.Repeat("abc ", 30000)
	for _, max := range []int{1024, 4096, DefaultRulesMaxScanBytes} {
		head, tail := scanWindow(text, max)
		if len(head)+len(tail) > max || !strings.HasPrefix(text, head) || !strings.HasSuffix(text, tail) {
			t.Errorf("max %d: head %d + tail %d bytes", max, len(head), len(tail))
		}
		if !strings.HasPrefix(tail, "abc ") || !utf8Valid(head) {
			t.Errorf("max %d: tail starts %q, head valid %v", max, tail[:min(8, len(tail))], utf8Valid(head))
		}
	}
	// A phrase cut in two by the window does not match across the cut.
	if got := sacreWords.findAll(foldForMatching("saint")+"  "+foldForMatching("sacrament"), -1); len(got) != 1 {
		t.Errorf("matches across the cut: %v", got)
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// BenchmarkRulesUnbounded: the 750 KB text scanned whole (MaxScanBytes < 0),
// to show the cost of the matchers without the scan bound.
func BenchmarkRulesUnbounded(b *testing.B) {
	m, err := NewRulesModerator(&RulesConfig{MaxScanBytes: -1})
	if err != nil {
		b.Fatal(err)
	}
	text := benchText(750_000)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	start := cpuTime()
	for b.Loop() {
		if _, err := m.Moderate(context.Background(), Content{Text: text}); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, start)
}
