package moderation

import (
	"regexp"
	"regexp/syntax"
)

// leadIndex runs a rule's regexp only where a match can start: at a word
// whose beginning is one of the words a match can begin with ("je", "t",
// "mange" …), found from the regexp's syntax tree, with the regexp anchored
// there. An unanchored search instead starts the whole automaton at every
// word boundary of the text. Same matches, far less work on long texts
// (issue 10 item 7).
type leadIndex struct {
	anchored  *regexp.Regexp  // ^(?:expr)
	prefixes  map[string]bool // a match starts with a word that has one of these as a prefix
	maxPrefix int
}

// newLeadIndex returns nil when expr has no usable set of first words (it
// can start with a character class, case folding, or match empty): such a
// rule keeps the plain regexp.
func newLeadIndex(expr string) *leadIndex {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil
	}
	set, empty, ok := firstWords(re)
	if !ok || empty || len(set) == 0 {
		return nil
	}
	li := &leadIndex{anchored: regexp.MustCompile(`^(?:` + expr + `)`), prefixes: map[string]bool{}}
	for _, p := range set {
		if p == "" {
			return nil
		}
		li.prefixes[p] = true
		li.maxPrefix = max(li.maxPrefix, len(p))
	}
	return li
}

// firstWords returns the word prefixes every non-empty match of re begins
// with, whether re can match the empty string, and false when it cannot
// tell.
func firstWords(re *syntax.Regexp) (set []string, empty, ok bool) {
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpWordBoundary:
		return nil, true, true
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			return nil, false, false
		}
		n := 0
		for n < len(re.Rune) && re.Rune[n] < 0x80 && isWordByte(byte(re.Rune[n])) {
			n++
		}
		if n == 0 {
			return nil, false, false
		}
		return []string{string(re.Rune[:n])}, false, true
	case syntax.OpCapture, syntax.OpPlus:
		return firstWords(re.Sub[0])
	case syntax.OpStar, syntax.OpQuest:
		s, _, ok := firstWords(re.Sub[0])
		return s, true, ok
	case syntax.OpRepeat:
		s, e, ok := firstWords(re.Sub[0])
		return s, e || re.Min == 0, ok
	case syntax.OpConcat:
		var acc []string
		for _, sub := range re.Sub {
			s, e, ok := firstWords(sub)
			if !ok {
				return nil, false, false
			}
			acc = append(acc, s...)
			if !e {
				return acc, false, true
			}
		}
		return acc, true, true
	case syntax.OpAlternate:
		var acc []string
		anyEmpty := false
		for _, sub := range re.Sub {
			s, e, ok := firstWords(sub)
			if !ok {
				return nil, false, false
			}
			acc = append(acc, s...)
			anyEmpty = anyEmpty || e
		}
		return acc, anyEmpty, true
	}
	return nil, false, false
}

// findAll returns up to n (n < 0: all) non-overlapping matches, left to
// right, exactly as the unanchored regexp's FindAllStringIndex would: a
// match can only start at the start of a word (its pattern begins with a
// word that follows `\b` or a space), so the leftmost match is the first
// candidate word where the anchored regexp matches, and the anchored
// regexp prefers the same match there.
func (li *leadIndex) findAll(t string, n int) [][2]int {
	var out [][2]int
	for i := 0; n < 0 || len(out) < n; {
		s, e := nextWord(t, i)
		if s < 0 {
			break
		}
		i = e
		if !li.candidate(t[s:e]) {
			continue
		}
		if loc := li.anchored.FindStringIndex(t[s:]); loc != nil && loc[1] > 0 {
			out = append(out, [2]int{s, s + loc[1]})
			i = s + loc[1]
		}
	}
	return out
}

func (li *leadIndex) candidate(word string) bool {
	for l := 1; l <= len(word) && l <= li.maxPrefix; l++ {
		if li.prefixes[word[:l]] {
			return true
		}
	}
	return false
}
