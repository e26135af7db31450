package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// Stub handlers: these targets are about the request decoder and the
// payload checks; the handlers' own bounds are tested with each handler.
type stubVideo struct{}

func (stubVideo) Enhance(context.Context, *VideoEnhancementJob) (*VideoEnhancementResult, error) {
	return &VideoEnhancementResult{}, nil
}

type stubAnalytics struct{}

func (stubAnalytics) Aggregate(context.Context, *AnalyticsBatch) (*AnalyticsSummary, error) {
	return &AnalyticsSummary{}, nil
}

type stubChain struct{}

func (stubChain) Sync(context.Context, *ChainSyncJob) (*ChainSyncResult, error) {
	return &ChainSyncResult{}, nil
}

type stubMemory struct{}

func (stubMemory) Mine(context.Context, *MemoryMiningJob) (*MemoryMiningResult, error) {
	return &MemoryMiningResult{}, nil
}

type stubPrivacy struct{}

func (stubPrivacy) Audit(context.Context, *PrivacyAuditJob) (*PrivacyAuditReport, error) {
	return &PrivacyAuditReport{}, nil
}

func fuzzRegistry(tb testing.TB) *Registry {
	reg, err := NewRegistry(&RegistryConfig{Handlers: Handlers{Video: stubVideo{}, Analytics: stubAnalytics{},
		Chain: stubChain{}, Memory: stubMemory{}, Privacy: stubPrivacy{}}})
	if err != nil {
		tb.Fatal(err)
	}
	return reg
}

var fuzzBodies = []string{
	`{"data":{"events":[{"type":"view","video_id":"v1","watch_ms":1000}]}}`,
	`{"name":"n","data":{"events":[{"type":"like","video_id":"v1","user_id":"u1"}]},"opts":{"job_id":"a-1","delay_ms":10,"priority":3,"attempts":2}}`,
	`{"data":{"video_id":"v1","source_url":"https://cdn.example/v.mp4"}}`,
	`{"data":{"wallet":"0x0123456789abcdef0123456789abcdef01234567","chain":"ethereum","from_block":1,"to_block":20000}}`,
	`{"data":{"user_id":"u1","date":"2026-11-29"}}`,
	`{"data":{"request_id":"R-1","user_id":"u42","kind":"deletion","received_at":"2026-11-29T00:00:00Z"}}`,
	`{"data":{}}`, `{}`, `null`, `[]`, `{"data":{"events":[]}} {}`, `{"data":1}`,
	`{"data":{"events":[{"type":"view","video_id":"v1"}]},"opts":{"delay_ms":-1}}`,
	`{"data":{"events":[{"type":"view","video_id":"v1"}]},"opts":{"job_id":"12"}}`,
	`{"data":{"events":[{"type":"view","video_id":"v1"}]},"Data":{}}`,
	`{"data":{"events":[{"type":"view","video_id":"v1"}]},"data":{}}`,
	"{\"data\":{\"events\":[{\"type\":\"view\",\"video_id\":\"v\u0000\"}]}}",
}

// FuzzEnqueueRequest drives POST /api/jobs/{queue} (degraded mode: no
// Redis, so an accepted job runs inline on a stub) with arbitrary bodies:
// it must never panic nor answer 5xx, and always answer JSON.
func FuzzEnqueueRequest(f *testing.F) {
	for i, b := range fuzzBodies {
		f.Add(uint8(i), []byte(b))
	}
	reg := fuzzRegistry(f)
	d, err := NewDispatcher(reg, nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	mux := http.NewServeMux()
	for _, r := range Routes(d, nil, slog.New(slog.DiscardHandler)) {
		mux.Handle(r.Pattern, r.Handler)
	}
	names := append(Names(), "no-such-queue")
	f.Fuzz(func(t *testing.T, q uint8, body []byte) {
		queue := names[int(q)%len(names)]
		req := httptest.NewRequest(http.MethodPost, "/api/jobs/"+queue, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = "127.0.0.1:40000" // a loopback client: no credential needed
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		switch w.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		case http.StatusNotFound:
			if queue != "no-such-queue" {
				t.Fatalf("404 for known queue %s: %s", queue, w.Body)
			}
		default:
			t.Fatalf("status %d for %q: %s", w.Code, body, w.Body)
		}
		if !json.Valid(w.Body.Bytes()) {
			t.Fatalf("answer is not JSON (status %d): %q", w.Code, w.Body)
		}
		if w.Code == http.StatusOK {
			var res Result
			if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil || res.Mode != ModeSync || res.Queue != queue {
				t.Fatalf("200 answer %s (err %v)", w.Body, err)
			}
		}
	})
}

// FuzzPayloadValidate checks every queue's payload decoder alone: no
// panic, and every refusal is a *ValidationError naming the queue.
func FuzzPayloadValidate(f *testing.F) {
	for i, b := range fuzzBodies {
		var req struct {
			Data json.RawMessage `json:"data"`
		}
		if json.Unmarshal([]byte(b), &req) == nil && len(req.Data) > 0 {
			f.Add(uint8(i), []byte(req.Data))
		}
	}
	reg := fuzzRegistry(f)
	f.Fuzz(func(t *testing.T, q uint8, data []byte) {
		names := reg.Names()
		spec, err := reg.Spec(names[int(q)%len(names)])
		if err != nil {
			t.Fatal(err)
		}
		err = spec.Validate(data)
		if err == nil {
			if !json.Valid(data) {
				t.Fatalf("%s accepted invalid JSON %q", spec.Name, data)
			}
			return
		}
		var ve *ValidationError
		if !errors.As(err, &ve) || !errors.Is(err, ErrInvalidPayload) || ve.Queue != spec.Name {
			t.Fatalf("%s: refusal %T %v is not a ValidationError of the queue", spec.Name, err, err)
		}
	})
}
