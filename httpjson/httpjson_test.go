package httpjson_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/zyeute/zyeute-redis/httpjson"
)

func TestErrorShapeAndHeaders(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	httpjson.Error(rec, http.StatusTeapot, "no coffee")
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusTeapot || len(body) != 2 || body["error"] != "no coffee" || body["status"] != float64(http.StatusTeapot) {
		t.Errorf("answer %d %v", rec.Code, body)
	}
	h := rec.Header()
	if h.Get("Content-Type") != "application/json; charset=utf-8" || h.Get("Cache-Control") != "no-store" || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers %v", h)
	}
}
