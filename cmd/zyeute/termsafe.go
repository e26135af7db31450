package main

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// termSafe makes a value read from Redis (job id, name, failure reason,
// queue name) safe to print on a terminal: a value that holds only
// printable characters is returned as is; any other is printed quoted with
// Go escapes, so control characters (NUL, BEL, ESC sequences, tabs, new
// lines), bidirectional overrides and isolates (U+202A–U+202E,
// U+2066–U+2069), other invisible format characters and invalid UTF-8
// become visible text such as "\x1b[2J" or "\u202e" instead of acting on
// the terminal or reordering the line.
func termSafe(s string) string {
	if printable(s) {
		return s
	}
	return strconv.QuoteToGraphic(s)
}

func printable(s string) bool {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size <= 1 {
				return false
			}
		}
		if !unicode.IsGraphic(r) {
			return false
		}
	}
	return true
}

// escapeControls escapes, in a message that may embed such values, every
// character termSafe would, except new lines (kept: messages span lines).
func escapeControls(msg string) string {
	if printable(strings.ReplaceAll(msg, "\n", "")) {
		return msg
	}
	lines := strings.Split(msg, "\n")
	for i, l := range lines {
		if !printable(l) {
			q := strconv.QuoteToGraphic(l)
			lines[i] = strings.ReplaceAll(q[1:len(q)-1], `\"`, `"`)
		}
	}
	return strings.Join(lines, "\n")
}

// truncateRunes cuts s to at most n characters, marking the cut with "…".
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}
