package moderation

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type httpResult struct {
	status int
	body   string
	json   map[string]any
}

func doHTTP(t *testing.T, h http.Handler, method, contentType, body string) httpResult {
	t.Helper()
	req := httptest.NewRequest(method, "/api/moderation", strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	r := httpResult{status: rec.Code, body: rec.Body.String()}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s %s: Content-Type %q, want JSON", method, body[:min(len(body), 40)], ct)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &r.json); err != nil {
		t.Fatalf("response is not a JSON object: %q", r.body)
	}
	return r
}

func httpStatus(t *testing.T, h http.Handler, body string) httpResult {
	t.Helper()
	return doHTTP(t, h, http.MethodPost, "application/json", body)
}

func TestHandlerBadInput(t *testing.T) {
	t.Parallel()
	c, err := NewCache(nil, rulesProvider(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	h := c.Handler()
	bigText := strings.Repeat("a", MaxTextBytes+1)
	bigImage := base64.StdEncoding.EncodeToString(make([]byte, MaxImageBytes+1))
	cases := []struct {
		name, method, ctype, body string
		status                    int
		msg                       string
	}{
		{"empty body", "POST", "application/json", "", 400, "empty body"},
		{"not JSON", "POST", "application/json", "text=hello", 400, "invalid JSON"},
		{"truncated JSON", "POST", "application/json", `{"text": "hi`, 400, "invalid JSON"},
		{"array", "POST", "application/json", `["hi"]`, 400, "invalid JSON"},
		{"unknown field", "POST", "application/json", `{"text":"hi","lang":"fr"}`, 400, `unknown field "lang"`},
		{"two objects", "POST", "application/json", `{"text":"hi"}{"text":"ho"}`, 400, "single object"},
		{"wrong type", "POST", "application/json", `{"text":42}`, 400, `"text" must be a string`},
		{"no content", "POST", "application/json", `{}`, 400, "empty content"},
		{"null content", "POST", "application/json", `{"text":null}`, 400, "empty content"},
		{"empty text", "POST", "application/json", `{"text":""}`, 400, "empty content"},
		{"blank text", "POST", "application/json", `{"text":" \n\t "}`, 400, "empty content"},
		{"empty image", "POST", "application/json", `{"image_base64":""}`, 400, "empty content"},
		{"text and image", "POST", "application/json", `{"text":"hi","image_url":"https://x.example/a.png"}`, 400, "exactly one"},
		{"two images", "POST", "application/json", `{"image_base64":"aGk=","image_url":"https://x.example/a.png"}`, 400, "exactly one"},
		{"ftp image URL", "POST", "application/json", `{"image_url":"ftp://x.example/a.png"}`, 400, "http or https"},
		{"javascript URL", "POST", "application/json", `{"image_url":"javascript:alert(1)"}`, 400, "http or https"},
		{"relative URL", "POST", "application/json", `{"image_url":"/a.png"}`, 400, "http or https"},
		{"bad base64", "POST", "application/json", `{"image_base64":"!!!not base64!!!"}`, 400, "not valid base64"},
		{"text over 1 MiB", "POST", "application/json", `{"text":"` + bigText + `"}`, 413, "too large"},
		{"image over 10 MiB", "POST", "application/json", `{"image_base64":"` + bigImage + `"}`, 413, "too large"},
		{"body over the limit", "POST", "application/json", `{"text":"` + strings.Repeat("a", maxBodyBytes) + `"}`, 413, "too large"},
		{"form content type", "POST", "application/x-www-form-urlencoded", `{"text":"hi"}`, 415, "application/json"},
		{"GET", "GET", "", "", 405, "use POST"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := doHTTP(t, h, tc.method, tc.ctype, tc.body)
			msg, _ := r.json["error"].(string)
			if r.status != tc.status || !strings.Contains(msg, tc.msg) {
				t.Fatalf("status %d error %q, want %d containing %q", r.status, msg, tc.status, tc.msg)
			}
			if len(r.json) != 2 || r.json["status"] != float64(r.status) {
				t.Fatalf("error body %s is not {\"error\", \"status\"}", r.body)
			}
		})
	}
	if s := c.LocalStats(); s.ProviderCalls != 0 {
		t.Fatalf("bad input reached the provider: %+v", s)
	}
}

func TestHandlerHappyPaths(t *testing.T) {
	t.Parallel()
	b := setup(t, rulesProvider(t), nil)
	h := b.cache.Handler()

	r := httpStatus(t, h, `{"text":"T'es un ostie de cave"}`)
	if r.status != 200 || r.json["flagged"] != true || r.json["cached"] != false || r.json["provider"] != "rules" ||
		r.json["model"] != RulesModelName {
		t.Fatalf("first = %d %s", r.status, r.body)
	}
	cats, _ := r.json["categories"].(map[string]any)
	scores, _ := r.json["scores"].(map[string]any)
	if cats["harassment"] != true || scores["harassment"].(float64) < 0.8 {
		t.Fatalf("categories/scores = %s", r.body)
	}
	r = httpStatus(t, h, `{"text":"T'es un ostie de cave"}`)
	if r.status != 200 || r.json["cached"] != true {
		t.Fatalf("second = %d %s, want cached", r.status, r.body)
	}
	// Content-Type may be absent or carry a charset.
	if r := doHTTP(t, h, "POST", "", `{"text":"salut"}`); r.status != 200 || r.json["flagged"] != false {
		t.Fatalf("no content type = %d %s", r.status, r.body)
	}
	if r := doHTTP(t, h, "POST", "application/json; charset=utf-8", `{"text":"salut"}`); r.status != 200 || r.json["cached"] != true {
		t.Fatalf("charset = %d %s", r.status, r.body)
	}

	r = httpStatus(t, h, `{"image_url":"https://cdn.zyeute.example/v/1.jpg"}`)
	if r.status != 200 || r.json["flagged"] != false || r.json["unsupported"] != true || r.json["note"] == "" {
		t.Fatalf("image URL with rules = %d %s", r.status, r.body)
	}
	png := base64.StdEncoding.EncodeToString([]byte("\x89PNG\r\n\x1a\nxxxxxxxx"))
	for _, img := range []string{png, "data:image/png;base64," + png, strings.TrimRight(png, "=")} {
		if r := httpStatus(t, h, `{"image_base64":"`+img+`"}`); r.status != 200 || r.json["unsupported"] != true {
			t.Fatalf("image_base64 %q = %d %s", img, r.status, r.body)
		}
	}
	// Exactly at the limits is accepted.
	if r := httpStatus(t, h, `{"text":"`+strings.Repeat("é", MaxTextBytes/2)+`"}`); r.status != 200 {
		t.Fatalf("1 MiB text = %d %s", r.status, r.body)
	}

	// Stats.
	req := httptest.NewRequest(http.MethodGet, "/api/admin/moderation/stats", nil)
	rec := httptest.NewRecorder()
	b.cache.StatsHandler().ServeHTTP(rec, req)
	var st Stats
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || rec.Code != 200 {
		t.Fatalf("stats = %d %s", rec.Code, rec.Body)
	}
	if st.Local.Hits < 2 || st.Fleet == nil || st.Fleet.Hits != st.Local.Hits || st.Fleet.HitRate <= 0 || st.Redis != "used" {
		t.Fatalf("stats = %+v fleet %+v", st, st.Fleet)
	}
	for _, field := range []string{`"local"`, `"fleet"`, `"hit_rate"`, `"hits"`, `"misses"`, `"bypasses"`, `"errors"`} {
		if !strings.Contains(rec.Body.String(), field) {
			t.Fatalf("stats JSON lacks %s: %s", field, rec.Body)
		}
	}
	rec = httptest.NewRecorder()
	b.cache.StatsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/admin/moderation/stats", nil))
	if rec.Code != 405 {
		t.Fatalf("POST stats = %d", rec.Code)
	}
}

func TestHandlerProviderFailure(t *testing.T) {
	t.Parallel()
	f := newFakeOpenAI(t)
	f.setRespond(func(n int64, w http.ResponseWriter, req fakeRequest) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	})
	b := setup(t, newOpenAI(t, f, nil), nil)
	r := httpStatus(t, b.cache.Handler(), `{"text":"hello"}`)
	if r.status != http.StatusBadGateway || !strings.Contains(r.json["error"].(string), `moderation provider "openai" failed`) {
		t.Fatalf("provider failure = %d %s", r.status, r.body)
	}
	if strings.Contains(r.body, f.srv.URL) {
		t.Fatalf("the provider URL leaked to the client: %s", r.body)
	}
	// The cause is logged for operators.
	if !strings.Contains(b.logs.String(), "status 503") {
		t.Fatalf("cause not logged:\n%s", b.logs)
	}
	// The image path through the OpenAI provider.
	f.setRespond(nil)
	png := base64.StdEncoding.EncodeToString([]byte("\x89PNG\r\n\x1a\nxxxxxxxx"))
	r = httpStatus(t, b.cache.Handler(), `{"image_base64":"`+png+`"}`)
	if r.status != 200 || r.json["provider"] != "openai" || r.json["unsupported"] != nil {
		t.Fatalf("image via openai = %d %s", r.status, r.body)
	}
	if !strings.Contains(string(f.lastRequest().Input), "data:image/png;base64,") {
		t.Fatalf("provider got %s", f.lastRequest().Input)
	}
	_ = context.Background()
}
