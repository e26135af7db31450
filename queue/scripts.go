package queue

import (
	"context"
	"embed"
	"fmt"
	"regexp"
	"strings"

	"github.com/redis/go-redis/v9"
)

// The Lua scripts are ours, written from the protocol description. Each file
// in lua/ is one atomic operation; files in lua/includes/ are shared
// functions pulled in with a line `--@include "name"`. An include may
// itself include others; each is expanded at most once per script (where
// it first appears). The line may be indented, inside a function: the
// included text is indented likewise, and its functions are then built
// only when that function runs (see coldOps in lua/includes/worker.lua).
//
//go:embed lua/*.lua lua/includes/*.lua
var luaFS embed.FS

var includeRe = regexp.MustCompile(`(?m)^([ \t]*)--@include "([a-zA-Z0-9_]+)"\s*$`)

// loadSource returns the script with its includes expanded.
func loadSource(name string) string {
	b, err := luaFS.ReadFile("lua/" + name + ".lua")
	if err != nil {
		panic(fmt.Sprintf("queue: missing embedded script %s: %v", name, err))
	}
	return stripComments(dropUnused(expandIncludes(name, string(b), map[string]bool{}, 0)))
}

// stripComments drops the lines that hold only a comment, and blank lines
// (the scripts use no long strings or long comments, which this would
// cut). Redis hashes the text of a script sent with EVAL or SCRIPT LOAD
// (~22 instructions per byte) and compiles it: about half of ours is
// comments.
func stripComments(src string) string {
	lines := strings.Split(src, "\n")
	out := lines[:0]
	for _, l := range lines {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "--") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// expandIncludes replaces the include lines of src (script name's text or
// one of its includes) with the included files, depth levels down.
func expandIncludes(name, src string, seen map[string]bool, depth int) string {
	if depth > 4 {
		panic(fmt.Sprintf("queue: script %s: includes nested too deep", name))
	}
	return includeRe.ReplaceAllStringFunc(src, func(line string) string {
		m := includeRe.FindStringSubmatch(line)
		indent, inc := m[1], m[2]
		if seen[inc] {
			return ""
		}
		seen[inc] = true
		ib, err := luaFS.ReadFile("lua/includes/" + inc + ".lua")
		if err != nil {
			panic(fmt.Sprintf("queue: script %s includes missing %s", name, inc))
		}
		text := expandIncludes(name, strings.TrimRight(string(ib), "\n"), seen, depth+1)
		if indent == "" {
			return text
		}
		lines := strings.Split(text, "\n")
		for i, l := range lines {
			if l != "" {
				lines[i] = indent + l
			}
		}
		return strings.Join(lines, "\n")
	})
}

var (
	funcStartRe = regexp.MustCompile(`^local function ([A-Za-z_][A-Za-z0-9_]*)\(`)
	identRe     = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`)
)

// dropUnused removes the top-level functions (`local function name(` at
// column 0 up to the next `end` at column 0) that nothing left in the
// script refers to. Redis runs a script's whole body on every call, so each
// included helper the script never calls would still cost a closure (and
// its upvalues, and their garbage collection) per call.
func dropUnused(src string) string {
	lines := strings.Split(src, "\n")
	type chunk struct {
		name       string
		start, end int // lines [start, end]
	}
	var chunks []chunk
	inChunk := make([]int, len(lines)) // chunk index + 1, 0 outside
	for i := 0; i < len(lines); i++ {
		m := funcStartRe.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		j := i + 1
		for j < len(lines) && lines[j] != "end" {
			j++
		}
		if j == len(lines) {
			return src // not the shape this expects: leave the script alone
		}
		chunks = append(chunks, chunk{m[1], i, j})
		for k := i; k <= j; k++ {
			inChunk[k] = len(chunks)
		}
		i = j
	}
	refs := map[string]bool{}
	addRefs := func(text string) {
		for _, id := range identRe.FindAllString(text, -1) {
			refs[id] = true
		}
	}
	for i, l := range lines {
		if inChunk[i] == 0 && !strings.HasPrefix(strings.TrimSpace(l), "--") {
			addRefs(l)
		}
	}
	kept := make([]bool, len(chunks))
	for changed := true; changed; {
		changed = false
		for ci, c := range chunks {
			if kept[ci] || !refs[c.name] {
				continue
			}
			kept[ci], changed = true, true
			addRefs(strings.Join(lines[c.start+1:c.end+1], "\n"))
		}
	}
	out := make([]string, 0, len(lines))
	for i, l := range lines {
		if ci := inChunk[i]; ci == 0 || kept[ci-1] {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// script is one embedded Lua script, run with EVALSHA and an EVAL fallback
// on NOSCRIPT (go-redis Script.Run).
type script struct {
	name string
	s    *redis.Script
}

func newScript(name string) *script {
	return &script{name: name, s: redis.NewScript(loadSource(name))}
}

// Scripter is the part of a go-redis client the queue needs to run scripts.
// redis.UniversalClient satisfies it, as do pipelines.
type Scripter = redis.Scripter

// run executes the script and maps a negative integer reply to the exported
// error for that code, wrapped with the operation name and job id.
func (s *script) run(ctx context.Context, c Scripter, jobID string, keys []string, args ...any) (any, error) {
	res, err := s.s.Run(ctx, c, keys, args...).Result()
	if err != nil {
		if err == redis.Nil {
			return nil, nil
		}
		return nil, fmt.Errorf("queue: %s: %w", s.name, err)
	}
	if code, ok := res.(int64); ok && code < 0 {
		return nil, codeError(s.name, jobID, code)
	}
	return res, nil
}

// load makes sure the script is cached on the server, so pipelines (which
// send only EVALSHA) can use it.
func (s *script) load(ctx context.Context, c Scripter) error {
	if err := s.s.Load(ctx, c).Err(); err != nil {
		return fmt.Errorf("queue: loading script %s: %w", s.name, err)
	}
	return nil
}
