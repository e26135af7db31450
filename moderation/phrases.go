package moderation

import (
	"fmt"
	"strings"
)

// phraseSet finds whole-word phrases ("va chier", "kys") in folded text with
// one pass over its words and a map lookup per word, instead of running a
// regexp alternation of hundreds of phrases at every word boundary (the cost
// that made long texts slow, issue 10 item 7).
//
// It matches exactly what `\b(?:p1|p2|…)\b` matches on folded text, where
// every phrase is ASCII words (a-z, 0-9) separated by single spaces: a
// "word" is a maximal run of ASCII word characters, which is where `\b`
// holds, and phrases sharing a first word are tried in the order they were
// listed, which is the regexp's leftmost-first preference.
type phraseSet struct {
	byFirst map[string][][]string // first word → phrases, as words, in list order
}

// newPhraseSet builds a set from an alternation built with alt(). It panics
// on anything but plain phrases, so that a regexp construct slipped into a
// list cannot be silently treated as a literal.
func newPhraseSet(altExpr string) *phraseSet {
	if !strings.HasPrefix(altExpr, "(?:") || !strings.HasSuffix(altExpr, ")") {
		panic(fmt.Sprintf("moderation: %q is not an alternation of phrases", altExpr))
	}
	ps := &phraseSet{byFirst: map[string][][]string{}}
	for _, p := range strings.Split(altExpr[3:len(altExpr)-1], "|") {
		for _, r := range p {
			if !isWordByte(byte(r)) && r != ' ' || r > 0x7f {
				panic(fmt.Sprintf("moderation: phrase %q is not plain ASCII words", p))
			}
		}
		w := strings.Split(p, " ")
		for _, x := range w {
			if x == "" {
				panic(fmt.Sprintf("moderation: phrase %q has an empty word", p))
			}
		}
		ps.byFirst[w[0]] = append(ps.byFirst[w[0]], w)
	}
	return ps
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// nextWord returns the bounds of the first maximal run of word bytes in t
// at or after i, or (-1, -1).
func nextWord(t string, i int) (int, int) {
	for i < len(t) && !isWordByte(t[i]) {
		i++
	}
	if i >= len(t) {
		return -1, -1
	}
	j := i
	for j < len(t) && isWordByte(t[j]) {
		j++
	}
	return i, j
}

// matchAt reports the end of phrase w when it starts at the word t[s:e],
// or -1.
func matchAt(t string, s, e int, w []string) int {
	if t[s:e] != w[0] {
		return -1
	}
	for _, x := range w[1:] {
		// Exactly one space, then the next word, whole.
		if e >= len(t) || t[e] != ' ' {
			return -1
		}
		s2 := e + 1
		if len(t)-s2 < len(x) || t[s2:s2+len(x)] != x || (s2+len(x) < len(t) && isWordByte(t[s2+len(x)])) {
			return -1
		}
		e = s2 + len(x)
	}
	return e
}

// findAll returns the [start, end) of up to n non-overlapping matches, left
// to right (n < 0: all), like regexp's FindAllStringIndex.
func (ps *phraseSet) findAll(t string, n int) [][2]int {
	var out [][2]int
	for i := 0; n < 0 || len(out) < n; {
		s, e := nextWord(t, i)
		if s < 0 {
			break
		}
		i = e
		for _, w := range ps.byFirst[t[s:e]] {
			if end := matchAt(t, s, e, w); end >= 0 {
				out = append(out, [2]int{s, end})
				i = end
				break
			}
		}
	}
	return out
}

// match reports whether any phrase occurs in t.
func (ps *phraseSet) match(t string) bool { return len(ps.findAll(t, 1)) > 0 }
