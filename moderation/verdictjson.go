package moderation

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"time"
)

// Stored verdicts are JSON, written by encoding/json:
//
//	{"v":1,"flagged":true,"categories":{"harassment":true,…},
//	 "scores":{"harassment":0.85,…},"provider":"rules","model":"…",
//	 "unsupported":true,"note":"…","at":1700000000}
//
// Reading them is on the hot path of every cache hit, where encoding/json's
// reflection costs about as much as the Redis round trip itself. So
// decodeVerdict first tries a small strict parser for exactly this shape
// (strings without escapes); anything else falls back to encoding/json.

// verdictFormat is the version of the stored JSON ("v").
const verdictFormat = 1

type storedVerdict struct {
	V int `json:"v"`
	Verdict
	At int64 `json:"at"`
}

func encodeVerdict(v Verdict) ([]byte, error) {
	return json.Marshal(storedVerdict{V: verdictFormat, Verdict: v, At: time.Now().Unix()})
}

func decodeVerdict(raw []byte) (Verdict, bool) {
	s, err := parseStoredVerdict(raw)
	if err != nil {
		s = storedVerdict{}
		if json.Unmarshal(raw, &s) != nil {
			return Verdict{}, false
		}
	}
	if s.V != verdictFormat || s.Provider == "" {
		return Verdict{}, false
	}
	if s.Categories == nil {
		s.Categories = map[string]bool{}
	}
	if s.Scores == nil {
		s.Scores = map[string]float64{}
	}
	return s.Verdict, true
}

var errSlowPath = errors.New("not in the fast-path shape")

// jsonParser is a minimal cursor over the stored-verdict JSON.
type jsonParser struct {
	b []byte
	i int
}

func (p *jsonParser) skipSpace() {
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\n' || p.b[p.i] == '\t' || p.b[p.i] == '\r') {
		p.i++
	}
}

func (p *jsonParser) consume(c byte) bool {
	p.skipSpace()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// interned holds the strings that recur in every verdict (category names,
// provider and model names), so that decoding them does not allocate.
var interned = func() map[string]string {
	m := map[string]string{}
	for _, s := range append(rulesCategories, "provider", "model", "rules", RulesModelName, "openai",
		DefaultOpenAIModel, "sexual/minors", "harassment/threatening", "hate/threatening", "illicit",
		"illicit/violent", "self-harm/intent", "self-harm/instructions", "violence/graphic") {
		m[s] = s
	}
	return m
}()

// istr reads a string, interning the common ones.
func (p *jsonParser) istr() (string, error) {
	if !p.consume('"') {
		return "", errSlowPath
	}
	end := bytes.IndexByte(p.b[p.i:], '"')
	if end < 0 {
		return "", errSlowPath
	}
	b := p.b[p.i : p.i+end]
	if s, ok := interned[string(b)]; ok { // no allocation for the lookup
		p.i += end + 1
		return s, nil
	}
	return p.strAt(end)
}

// str reads a string without escapes.
func (p *jsonParser) str() (string, error) {
	if !p.consume('"') {
		return "", errSlowPath
	}
	end := bytes.IndexByte(p.b[p.i:], '"')
	if end < 0 {
		return "", errSlowPath
	}
	return p.strAt(end)
}

// strAt finishes reading a string whose closing quote is end bytes ahead.
func (p *jsonParser) strAt(end int) (string, error) {
	s := p.b[p.i : p.i+end]
	if bytes.IndexByte(s, '\\') >= 0 {
		return "", errSlowPath
	}
	p.i += end + 1
	return string(s), nil
}

func (p *jsonParser) boolean() (bool, error) {
	p.skipSpace()
	switch {
	case bytes.HasPrefix(p.b[p.i:], []byte("true")):
		p.i += 4
		return true, nil
	case bytes.HasPrefix(p.b[p.i:], []byte("false")):
		p.i += 5
		return false, nil
	}
	return false, errSlowPath
}

func (p *jsonParser) number() (float64, error) {
	p.skipSpace()
	start := p.i
	for p.i < len(p.b) && bytes.IndexByte([]byte("+-.0123456789eE"), p.b[p.i]) >= 0 {
		p.i++
	}
	num := p.b[start:p.i]
	if len(num) == 1 && num[0] >= '0' && num[0] <= '9' {
		return float64(num[0] - '0'), nil
	}
	return strconv.ParseFloat(string(num), 64)
}

// object calls field for each key of an object.
func (p *jsonParser) object(field func(key string) error) error {
	if !p.consume('{') {
		return errSlowPath
	}
	if p.consume('}') {
		return nil
	}
	for {
		k, err := p.istr()
		if err != nil {
			return err
		}
		if !p.consume(':') {
			return errSlowPath
		}
		if err := field(k); err != nil {
			return err
		}
		if p.consume(',') {
			continue
		}
		if p.consume('}') {
			return nil
		}
		return errSlowPath
	}
}

func parseStoredVerdict(raw []byte) (storedVerdict, error) {
	var s storedVerdict
	p := &jsonParser{b: raw}
	err := p.object(func(key string) error {
		var err error
		switch key {
		case "v":
			var f float64
			f, err = p.number()
			s.V = int(f)
		case "flagged":
			s.Flagged, err = p.boolean()
		case "unsupported":
			s.Unsupported, err = p.boolean()
		case "provider":
			s.Provider, err = p.istr()
		case "model":
			s.Model, err = p.istr()
		case "note":
			s.Note, err = p.str()
		case "at":
			var f float64
			f, err = p.number()
			s.At = int64(f)
		case "categories":
			s.Categories = make(map[string]bool, 13)
			err = p.object(func(k string) error {
				b, err := p.boolean()
				s.Categories[k] = b
				return err
			})
		case "scores":
			s.Scores = make(map[string]float64, 13)
			err = p.object(func(k string) error {
				f, err := p.number()
				s.Scores[k] = f
				return err
			})
		default:
			return errSlowPath
		}
		return err
	})
	if err != nil {
		return storedVerdict{}, err
	}
	if p.skipSpace(); p.i != len(p.b) {
		return storedVerdict{}, errSlowPath
	}
	return s, nil
}
