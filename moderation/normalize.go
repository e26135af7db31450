package moderation

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// foldForMatching turns text into the form the rules match against:
// accents removed (é → e), lower case, ligatures expanded (œ → oe), light
// leetspeak undone inside words (c0nnard → connard), every run of
// non-letters (spaces, punctuation, apostrophes, hyphens) turned into one
// space, letters repeated three times or more collapsed to one
// (tabarnaaak → tabarnak), and a space at each end so that patterns can
// anchor on " word ".
func foldForMatching(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte(' ')
	word := make([]rune, 0, 32)
	flush := func() {
		if len(word) == 0 {
			return
		}
		// Only words that start with a letter are un-leeted, so numbers
		// and ages ("14yo", "1488") stay as written.
		if unicode.IsLetter(word[0]) {
			for i, r := range word {
				if l, ok := leet[r]; ok {
					word[i] = l
				}
			}
		}
		// Collapse runs of 3+ identical letters to one.
		for i := 0; i < len(word); {
			j := i
			for j < len(word) && word[j] == word[i] {
				j++
			}
			n := j - i
			if n >= 3 && unicode.IsLetter(word[i]) {
				n = 1
			}
			for k := 0; k < n; k++ {
				b.WriteRune(word[i])
			}
			i = j
		}
		b.WriteByte(' ')
		word = word[:0]
	}
	for _, r := range norm.NFD.String(s) {
		if unicode.Is(unicode.Mn, r) {
			continue // combining accent
		}
		if exp, ok := ligatures[r]; ok {
			word = append(word, []rune(exp)...)
			continue
		}
		r = unicode.ToLower(r)
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '@', r == '$':
			word = append(word, r)
		case r == '*' && len(word) > 0:
			// f*ck, f**k: censoring stars inside a word are dropped.
		case unicode.IsLetter(r):
			word = append(word, r)
		default:
			flush()
		}
	}
	flush()
	out := b.String()
	if out == " " {
		return " "
	}
	return out
}

var leet = map[rune]rune{'0': 'o', '1': 'i', '3': 'e', '4': 'a', '5': 's', '7': 't', '@': 'a', '$': 's'}

var ligatures = map[rune]string{'œ': "oe", 'Œ': "oe", 'æ': "ae", 'Æ': "ae", 'ß': "ss"}
