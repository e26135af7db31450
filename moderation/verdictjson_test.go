package moderation

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestVerdictJSONRoundTrip(t *testing.T) {
	t.Parallel()
	verdicts := []Verdict{
		{Flagged: true, Categories: map[string]bool{"harassment": true, "hate": false},
			Scores: map[string]float64{"harassment": 0.85, "hate": 1e-7}, Provider: "rules", Model: "m"},
		{Categories: map[string]bool{}, Scores: map[string]float64{}, Provider: "rules", Model: "m",
			Unsupported: true, Note: `the "rules" provider <cannot> judge images — é`},
		{Categories: map[string]bool{"self-harm/intent": false}, Scores: map[string]float64{"self-harm/intent": 0.000123},
			Provider: "openai", Model: "omni-moderation-2024-09-26"},
	}
	for _, v := range verdicts {
		raw, err := encodeVerdict(v)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := decodeVerdict(raw)
		if !ok || !reflect.DeepEqual(got, v) {
			t.Errorf("round trip of %s = %+v, %v", raw, got, ok)
		}
		// The fast parser agrees with encoding/json whenever it accepts.
		if fast, err := parseStoredVerdict(raw); err == nil {
			var slow storedVerdict
			_ = json.Unmarshal(raw, &slow)
			if !reflect.DeepEqual(fast, slow) {
				t.Errorf("fast %+v != slow %+v", fast, slow)
			}
		}
	}
	for _, bad := range []string{"", "null", "{}", `{"v":2,"provider":"x"}`, `{"v":1}`, `{"v":1,"provider":"x"`, `[1]`,
		`{"v":1,"provider":"x"} trailing`} {
		if v, ok := decodeVerdict([]byte(bad)); ok {
			t.Errorf("decodeVerdict(%q) accepted: %+v", bad, v)
		}
	}
}

func FuzzDecodeVerdict(f *testing.F) {
	f.Add([]byte(`{"v":1,"flagged":true,"categories":{"a":true},"scores":{"a":0.5},"provider":"p","model":"m","at":1}`))
	f.Add([]byte(`{"v":1,"provider":"p","note":"x\"y"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		fast, err := parseStoredVerdict(raw)
		if err != nil {
			return
		}
		var slow storedVerdict
		if json.Unmarshal(raw, &slow) != nil {
			return // the fast parser is laxer on some invalid JSON; decodeVerdict then still needs v and provider
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("fast %+v != slow %+v for %q", fast, slow, raw)
		}
	})
}
