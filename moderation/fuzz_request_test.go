package moderation

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzModerationRequest drives POST /api/moderation (rules provider, no
// Redis) with arbitrary bodies: it must never panic nor answer 5xx, always
// answer JSON, and a 200 must carry a verdict.
func FuzzModerationRequest(f *testing.F) {
	for _, b := range []string{
		`{"text":"hello"}`, `{"text":""}`, `{"image_url":"https://example.com/a.png"}`,
		`{"image_url":"ftp://x"}`, `{"image_base64":"aGVsbG8="}`, `{"image_base64":"data:image/png;base64,aGVsbG8"}`,
		`{"image_base64":"data:image/png,xx"}`, `{"image_base64":"!!!"}`, `{"text":"a","image_url":"https://e.com"}`,
		`{}`, `null`, `[]`, `{"text":"a"} {}`, `{"text":"a"}x`, `{"Text":"a"}`, `{"text":"a","text":"b"}`,
		`{"text":1}`, `{"other":"a"}`, "{\"text\":\"\u202e\u0000\"}", ``,
	} {
		f.Add([]byte(b))
	}
	rules, err := NewRulesModerator(nil)
	if err != nil {
		f.Fatal(err)
	}
	c, err := NewCache(nil, rules, nil)
	if err != nil {
		f.Fatal(err)
	}
	h := c.Handler()
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/api/moderation", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = "127.0.0.1:40000" // a loopback client: no credential needed
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 500 || w.Code < 200 {
			t.Fatalf("status %d for %q: %s", w.Code, body, w.Body)
		}
		if !json.Valid(w.Body.Bytes()) {
			t.Fatalf("answer is not JSON (status %d): %q", w.Code, w.Body)
		}
		if w.Code == http.StatusOK {
			var v struct {
				Provider *string `json:"provider"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil || v.Provider == nil {
				t.Fatalf("200 without a verdict for %q: %s", body, w.Body)
			}
		}
	})
}
