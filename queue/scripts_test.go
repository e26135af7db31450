package queue

import (
	"regexp"
	"strings"
	"testing"
)

// allScriptNames lists the embedded scripts (lua/*.lua).
func allScriptNames(t *testing.T) []string {
	t.Helper()
	ents, err := luaFS.ReadDir("lua")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if !e.IsDir() {
			names = append(names, strings.TrimSuffix(e.Name(), ".lua"))
		}
	}
	return names
}

// Every script, includes expanded, compiles on a real Redis, holds no
// comment-only line, and calls no local function before the line that
// defines it (Lua would look it up as a global, which Redis refuses at
// run time only, on the path that reaches the call).
func TestScriptsLoadAndDefineBeforeUse(t *testing.T) {
	b := setup(t)
	defRe := regexp.MustCompile(`^\s*local function ([A-Za-z_][A-Za-z0-9_]*)\(`)
	callRe := regexp.MustCompile(`(?:^|[^.:\w])([A-Za-z_][A-Za-z0-9_]*)\s*\(`)
	for _, name := range allScriptNames(t) {
		src := loadSource(name)
		if err := b.client.ScriptLoad(b.ctx, src).Err(); err != nil {
			t.Errorf("%s: SCRIPT LOAD: %v", name, err)
		}
		lines := strings.Split(src, "\n")
		defined := map[string]int{}
		for i, l := range lines {
			if m := defRe.FindStringSubmatch(l); m != nil {
				if _, ok := defined[m[1]]; !ok {
					defined[m[1]] = i
				}
			}
			if strings.HasPrefix(strings.TrimSpace(l), "--") || strings.TrimSpace(l) == "" {
				t.Errorf("%s line %d: comment-only or blank line left: %q", name, i+1, l)
			}
		}
		for i, l := range lines {
			code, _, _ := strings.Cut(l, "--")
			for _, m := range callRe.FindAllStringSubmatch(code, -1) {
				if at, ok := defined[m[1]]; ok && at > i {
					t.Errorf("%s line %d calls %s, defined only at line %d", name, i+1, m[1], at+1)
				}
			}
		}
	}
}

// The worker scripts carry the "ready" functions inside coldOps (built
// only when a call needs them); a script that includes "ready" before
// "worker" has them at the top, once.
func TestScriptsNestedInclude(t *testing.T) {
	top := regexp.MustCompile(`(?m)^local function pausedOrMaxed\(`)
	nested := regexp.MustCompile(`(?m)^  local function pausedOrMaxed\(`)
	mf := loadSource("moveToFinished")
	if top.MatchString(mf) || !nested.MatchString(mf) {
		t.Errorf("moveToFinished: pausedOrMaxed should be nested in coldOps only")
	}
	mw := loadSource("moveToWait")
	if !top.MatchString(mw) || nested.MatchString(mw) {
		t.Errorf("moveToWait: pausedOrMaxed should be at the top only")
	}
	if strings.Contains(loadSource("moveToActive"), "local function updateParent(") {
		t.Errorf("moveToActive carries the flow helpers (flowOps), which it never calls")
	}
}
