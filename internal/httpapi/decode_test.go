package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/internal/httpapi"
)

type inner struct {
	Type string `json:"type"`
	N    int    `json:"n"`
}

type doc struct {
	Name  string          `json:"name"`
	Data  json.RawMessage `json:"data"`
	Items []inner         `json:"items"`
	Opts  *struct {
		JobID string `json:"job_id"`
	} `json:"opts"`
	Any map[string]any `json:"any"`
}

// custom accepts any object and counts its keys.
type custom struct {
	Known int `json:"known"`
	n     int
}

func (c *custom) UnmarshalJSON(b []byte) error {
	var m map[string]any
	err := json.Unmarshal(b, &m)
	c.n = len(m)
	return err
}

// Issue 10 item 4: encoding/json accepts trailing data, duplicate keys and
// keys that differ only by case (it keeps the last one and matches
// case-blind); UnmarshalStrict refuses them, naming the key.
func TestUnmarshalStrict(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in, err string
	}{
		{`{"name":"a","data":{"x":1},"items":[{"type":"t","n":1}],"opts":{"job_id":"j"},"any":{"k":[1,{"z":null}]}}`, ""},
		{` {"name":"a"} ` + "\n", ""},
		{`{"name":"a"} {"name":"b"}`, "trailing data after the JSON value"},
		{`{"name":"a"}x`, "trailing data after the JSON value"},
		{`{"name":"a"}]`, "trailing data after the JSON value"},
		{`{"name":"a","name":"b"}`, `duplicate key "name"`},
		{`{"name":"a","Name":"b"}`, `keys "name" and "Name" differ only by case`},
		{`{"NAME":"b"}`, `key "NAME" must be spelled "name"`},
		{`{"opts":{"Job_ID":"x"}}`, `key "opts.Job_ID" must be spelled "job_id"`},
		{`{"items":[{"type":"a"},{"type":"a","TYPE":"b"}]}`, `keys "items[1].type" and "items[1].TYPE" differ only by case`},
		{`{"data":{"user_id":"u1","user_id":"u2"}}`, `duplicate key "data.user_id"`},
		{`{"data":{"a":{"b":1,"B":2}}}`, `keys "data.a.b" and "data.a.B" differ only by case`},
		{`{"any":{"k":1,"k":2}}`, `duplicate key "any.k"`},
		{`{"extra":1}`, `unknown field "extra"`},
		{`{"opts":{"job_id":"j","retries":1}}`, `unknown field "retries"`},
		{`{"name":1}`, `field name: must be a JSON string, not number`},
		{`{"name":`, "unexpected end of JSON input"},
		{``, "the body is empty"},
		{`   `, "the body is empty"},
		{`{"name" "a"}`, "invalid character"},
		{strings.Repeat("[", 70) + strings.Repeat("]", 70), "nested deeper than 64 levels"},
	} {
		var d doc
		err := httpapi.UnmarshalStrict([]byte(tt.in), &d)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%.60s: %v", tt.in, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%.60s: got %v, want %q", tt.in, err, tt.err)
		}
	}
	// Same keys in different objects are fine; so are map keys of any case.
	var m map[string]map[string]int
	if err := httpapi.UnmarshalStrict([]byte(`{"a":{"x":1},"b":{"x":2},"C":{"X":3}}`), &m); err != nil || m["C"]["X"] != 3 {
		t.Errorf("map: %v %v", m, err)
	}
	// A type with its own UnmarshalJSON decides which keys it accepts.
	var own struct {
		T time.Time `json:"t"`
		C custom    `json:"c"`
	}
	if err := httpapi.UnmarshalStrict([]byte(`{"t":"2024-01-02T03:04:05Z","c":{"anything":1}}`), &own); err != nil || own.C.n != 1 {
		t.Errorf("custom unmarshaler: %v %+v", err, own)
	}
	// Error messages never carry values.
	var d doc
	err := httpapi.UnmarshalStrict([]byte(`{"name":"secret-value-1","name":"secret-value-2"}`), &d)
	if err == nil || strings.Contains(err.Error(), "secret-value") {
		t.Errorf("error %v", err)
	}
}

func TestDecodeJSONContentType(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		ct     string
		status int
	}{
		{"application/json", 200},
		{"application/json; charset=utf-8", 200},
		{"Application/JSON; charset=UTF-8", 200},
		{"", 415},
		{"text/plain", 415},
		{"text/plain; charset=utf-8", 415},
		{"application/x-www-form-urlencoded", 415},
		{"multipart/form-data; boundary=x", 415},
		{"application/json; charset=latin1", 415},
		{"application/jsonx", 415},
	} {
		req := httptest.NewRequest("POST", "/x", strings.NewReader(`{"name":"a"}`))
		if tt.ct != "" {
			req.Header.Set("Content-Type", tt.ct)
		}
		rec := httptest.NewRecorder()
		var d doc
		err := httpapi.DecodeJSON(rec, req, &d, 0)
		status := http.StatusOK
		if e, ok := err.(*httpapi.Error); ok {
			status = e.Status
		} else if err != nil {
			status = 500
		}
		if status != tt.status {
			t.Errorf("Content-Type %q: %d (%v), want %d", tt.ct, status, err, tt.status)
		}
	}
}

// FuzzUnmarshalStrict: never panics; what it accepts encoding/json accepts
// and decodes to the same value; what encoding/json refuses, it refuses.
func FuzzUnmarshalStrict(f *testing.F) {
	for _, s := range []string{
		`{"name":"a","data":{"x":1},"items":[{"type":"t","n":1}],"opts":{"job_id":"j"}}`,
		`{"name":"a","name":"b"}`, `{"name":"a","NAME":"b"}`, `{"Name":"a"}`, `{"name":"a"} {}`,
		`{"data":{"a":{"b":1,"B":2}}}`, `[]`, `null`, `"x"`, `{"any":{"k":[1,2,{"\u006b":3,"k":4}]}}`,
		`{"name":"\u00e9","n\u0061me":"x"}`, `{"items":[{"n":1e400}]}`, "{\"name\":\"\xff\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var strict doc
		serr := httpapi.UnmarshalStrict(in, &strict)
		var std doc
		dec := json.NewDecoder(strings.NewReader(string(in)))
		dec.DisallowUnknownFields()
		stdErr := dec.Decode(&std)
		if serr != nil {
			return
		}
		if stdErr != nil {
			t.Fatalf("strict accepted what encoding/json refuses (%v): %q", stdErr, in)
		}
		a, _ := json.Marshal(strict)
		b, _ := json.Marshal(std)
		if string(a) != string(b) {
			t.Fatalf("decoded differently: %s vs %s", a, b)
		}
		// Accepted input re-encoded is accepted again (no false positives
		// on canonical JSON).
		if err := httpapi.UnmarshalStrict(a, new(doc)); err != nil {
			t.Fatalf("re-encoded %s refused: %v", a, err)
		}
	})
}
