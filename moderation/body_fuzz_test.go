package moderation

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
)

// FuzzReadRequest checks the streaming decoder of POST /api/moderation
// against encoding/json: it never panics, fails only with 400 or 413, and
// whatever it accepts, encoding/json accepts too with the same content.
//
//	go test -run '^$' -fuzz FuzzReadRequest -fuzztime 30s ./moderation/
func FuzzReadRequest(f *testing.F) {
	for _, s := range []string{
		`{"text":"T'es un ostie de cave"}`, `{"text":"a\u00e9\ud83d\ude00\n\"\\/"}`, `{"text":"\ud800\ud83d\ude00"}`,
		`{"text":"\ud800x"}`, `{"text":null,"image_url":"https://x.example/a.png"}`, `{"image_base64":"aGk="}`,
		`{"image_base64":"data:image/png;base64,aGk"}`, `{"image_base64":"aGk\r\n="}`, ` { "text" : "x" } `,
		`{"text":"x"} {}`, `{"text":"x",}`, `{"TEXT":"x"}`, `{"text":"x","text":"y"}`, `{"text":42}`, `[]`, ``,
		`{"text":"` + "\xff\xfe" + `"}`, `{"image_base64":"QUJD-_"}`, `{}`, `{"text":"\u0000"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		c, err := readRequest(strings.NewReader(body), int64(len(body)))
		if err != nil {
			var ae *apiError
			if !errors.As(err, &ae) || (ae.status != http.StatusBadRequest && ae.status != http.StatusRequestEntityTooLarge) {
				t.Fatalf("%q: error %v", body, err)
			}
			return
		}
		var req ModerationRequest
		dec := json.NewDecoder(strings.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			t.Fatalf("%q accepted, encoding/json says %v", body, err)
		}
		switch {
		case c.Text != "":
			if req.Text == nil || *req.Text != c.Text {
				t.Fatalf("%q: text %q, encoding/json %v", body, c.Text, req.Text)
			}
		case c.ImageURL != "":
			if req.ImageURL == nil || *req.ImageURL != c.ImageURL {
				t.Fatalf("%q: image_url %q, encoding/json %v", body, c.ImageURL, req.ImageURL)
			}
		case len(c.ImageData) > 0:
			if req.ImageBase64 == nil {
				t.Fatalf("%q: image decoded, encoding/json has none", body)
			}
			// Where a standard decoder accepts the value, the bytes agree
			// (the stream decoder is more lenient: spaces, mixed alphabets).
			s := strings.TrimSpace(*req.ImageBase64)
			if i := strings.Index(s, ";base64,"); strings.HasPrefix(s, "data:") && i >= 0 {
				s = s[i+len(";base64,"):]
			}
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
				if want, err := enc.DecodeString(s); err == nil {
					if !bytes.Equal(want, c.ImageData) {
						t.Fatalf("%q: image %x, base64 %x", body, c.ImageData, want)
					}
					break
				}
			}
		default:
			t.Fatalf("%q: accepted with no content", body)
		}
	})
}
