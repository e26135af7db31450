package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestPayloadValidation(t *testing.T) {
	t.Parallel()
	reg, err := NewRegistry(nil)
	if err != nil {
		t.Fatal(err)
	}
	big := `{"video_id":"v","source_url":"https://x.example/` + strings.Repeat("a", MaxPayloadSize) + `","duration_seconds":1}`
	tests := []struct {
		queue, data string
		field       string // "" = valid; "-" = error on the whole payload
		reason      string
	}{
		{VideoEnhancement, `{"video_id":"v1","source_url":"https://cdn.example/v1.mp4","duration_seconds":30}`, "", ""},
		{VideoEnhancement, `{"source_url":"https://cdn.example/v1.mp4","duration_seconds":30}`, "video_id", "is required"},
		{VideoEnhancement, `{"video_id":"v 1","source_url":"https://cdn.example/v1.mp4","duration_seconds":30}`, "video_id", "may only contain"},
		{VideoEnhancement, `{"video_id":"v1","source_url":"ftp://cdn.example/v1.mp4","duration_seconds":30}`, "source_url", "https://"},
		{VideoEnhancement, `{"video_id":"v1","source_url":"https://u:pw@cdn.example/v","duration_seconds":30}`, "source_url", "credentials"},
		{VideoEnhancement, `{"video_id":"v1","source_url":"s3://bucket/v1","duration_seconds":-1}`, "duration_seconds", "between 0 (unknown) and 3600"},
		{VideoEnhancement, `{"video_id":"v1","source_path":"clips/v1.mp4"}`, "", ""},
		{VideoEnhancement, `{"video_id":"v1","source_path":"clips/v1.mp4","source_url":"s3://bucket/v1"}`, "source_path", "not both"},
		{VideoEnhancement, `{"video_id":"v1"}`, "source_url", "is required"},
		{VideoEnhancement, `{"video_id":"v1","source_url":"s3://bucket/v1","duration_seconds":3,"preset":"4k"}`, "preset", "must be one of"},
		{VideoEnhancement, `{"video_id":"v1","source_url":"s3://bucket/v1","duration_seconds":3,"width":720}`, "width", "both or neither"},
		{VideoEnhancement, `{"video_id":"v1","source_url":"s3://bucket/v1","duration_seconds":"3"}`, "duration_seconds", "must be a JSON number"},
		{VideoEnhancement, `{"video_id":"v1","source_url":"s3://bucket/v1","duration_seconds":3,"bytes":"AAAA"}`, "bytes", "unknown field"},
		{VideoEnhancement, big, "-", "limit 65536"},
		{VideoEnhancement, `null`, "-", "data is required"},
		{VideoEnhancement, ``, "-", "data is required"},
		{VideoEnhancement, `[1]`, "-", "JSON object"},
		{VideoEnhancement, `{"video_id":"v1"} {}`, "-", "more than one"},
		{Analytics, `{"events":[{"type":"view","video_id":"v1","watch_ms":1200,"user_id":"u1"}]}`, "", ""},
		{Analytics, `{"events":[]}`, "events", "is required"},
		{Analytics, `{"events":[{"type":"view","video_id":"v1"},{"type":"like","video_id":"v1","watch_ms":3}]}`, "events[1].watch_ms", "only views"},
		{Analytics, `{"events":[{"type":"poke","video_id":"v1"}]}`, "events[0].type", "must be one of"},
		{Analytics, `{"events":[` + strings.TrimSuffix(strings.Repeat(`{"type":"like","video_id":"v"},`, MaxAnalyticsEvents+1), ",") + `]}`, "events", "limit 1000"},
		{BlockchainSync, `{"wallet":"0xAbCdEf0123456789abcdef0123456789ABCDEF01","chain":"ethereum","from_block":1,"to_block":25000}`, "", ""},
		{BlockchainSync, `{"wallet":"bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq","chain":"bitcoin","from_block":1,"to_block":2}`, "", ""},
		{BlockchainSync, `{"wallet":"0x123","chain":"ethereum","from_block":1,"to_block":2}`, "wallet", "not a valid ethereum address"},
		{BlockchainSync, `{"wallet":"0xAbCdEf0123456789abcdef0123456789ABCDEF01","chain":"dogecoin","from_block":1,"to_block":2}`, "chain", "must be one of"},
		{BlockchainSync, `{"wallet":"0xAbCdEf0123456789abcdef0123456789ABCDEF01","chain":"polygon","from_block":5,"to_block":2}`, "to_block", "at least from_block"},
		{BlockchainSync, `{"wallet":"0xAbCdEf0123456789abcdef0123456789ABCDEF01","chain":"polygon","from_block":0,"to_block":1000000}`, "to_block", "larger than"},
		{BlockchainSync, `{"wallet":"0xAbCdEf0123456789abcdef0123456789ABCDEF01","chain":"polygon","from_block":-1,"to_block":2}`, "from_block", "must be a JSON number"},
		{MemoryMining, `{"user_id":"u1","date":"2026-11-26","videos":[{"video_id":"a","created_at":"2024-11-26T10:00:00Z"}]}`, "", ""},
		{MemoryMining, `{"user_id":"u1","date":"26/11/2026","videos":[{"video_id":"a","created_at":"2024-11-26T10:00:00Z"}]}`, "date", "YYYY-MM-DD"},
		{MemoryMining, `{"user_id":"u1","videos":[{"video_id":"a"}]}`, "videos[0].created_at", "is required"},
		{MemoryMining, `{"user_id":"u1","videos":[{"video_id":"a","created_at":"yesterday"}]}`, "-", "RFC 3339"},
		{PrivacyAudit, `{"request_id":"r1","user_id":"u1","kind":"deletion"}`, "", ""},
		{PrivacyAudit, `{"request_id":"r1","user_id":"u1","kind":"forget-me"}`, "kind", "must be one of"},
		{PrivacyAudit, `{"request_id":"r1","user_id":"u1","kind":"access","categories":["dna"]}`, "categories[0]", "must be one of"},
		{PrivacyAudit, `{"user_id":"u1","kind":"access"}`, "request_id", "is required"},
		// Dates and numbers are bounded (issue 10 item 12).
		{PrivacyAudit, `{"request_id":"r1","user_id":"u1","kind":"access","received_at":"9999-12-31T23:59:59Z"}`, "received_at", "must be between 2000-01-01T00:00:00Z and 24 hours from now (got 9999-12-31T23:59:59Z)"},
		{PrivacyAudit, `{"request_id":"r1","user_id":"u1","kind":"access","received_at":"9999-12-31T23:59:59-23:59"}`, "received_at", "(got 10000-01-01T23:58:59Z)"},
		{PrivacyAudit, `{"request_id":"r1","user_id":"u1","kind":"access","received_at":"1999-12-31T23:59:59Z"}`, "received_at", "must be between"},
		{PrivacyAudit, `{"request_id":"r1","user_id":"u1","kind":"access","received_at":"2024-02-01T10:00:00+05:00"}`, "", ""},
		{PrivacyAudit, `{"request_id":"r1","user_id":"u1","kind":"access","categories":["wallet","contact","wallet"]}`, "categories[2]", `lists "wallet" twice`},
		{Analytics, `{"events":[{"type":"like","video_id":"v1","at":"2025-01-01T00:00:00Z"},{"type":"like","video_id":"v1","at":"9999-12-31T23:59:59Z"}]}`, "events[1].at", "must be between"},
		{Analytics, `{"events":[{"type":"like","video_id":"v1","at":"0001-01-01T00:00:00Z"}]}`, "events[0].at", "must be between"},
		{Analytics, `{"events":[{"type":"view","video_id":"v1","watch_ms":-5}]}`, "events[0].watch_ms", "between 0 and"},
		{MemoryMining, `{"user_id":"u1","date":"9999-12-31","videos":[{"video_id":"a","created_at":"2024-11-26T10:00:00Z"}]}`, "date", "more than a day after today"},
		{MemoryMining, `{"user_id":"u1","videos":[{"video_id":"a","created_at":"9999-12-31T23:59:59Z"}]}`, "videos[0].created_at", "must be between"},
		{MemoryMining, `{"user_id":"u1","videos":[{"video_id":"a","created_at":"2024-11-26T10:00:00Z","views":-1}]}`, "videos[0].views", "between 0 and 9007199254740991"},
		{MemoryMining, `{"user_id":"u1","videos":[{"video_id":"a","created_at":"2024-11-26T10:00:00Z","shares":9007199254740992}]}`, "videos[0].shares", "between 0 and 9007199254740991"},
		{MemoryMining, `{"user_id":"u1","videos":[{"video_id":"a","created_at":"2024-11-26T10:00:00Z","comments":9223372036854775807}]}`, "videos[0].comments", "between 0 and"},
		{MemoryMining, `{"user_id":"u1","videos":[{"video_id":"a","created_at":"2024-11-26T10:00:00Z","likes":1e30}]}`, "videos.likes", "must be a JSON number"},
		{BlockchainSync, `{"wallet":"0xAbCdEf0123456789abcdef0123456789ABCDEF01","chain":"polygon","from_block":9007199254740992,"to_block":9007199254740993}`, "from_block", "at most 9007199254740991"},
		{BlockchainSync, `{"wallet":"0xAbCdEf0123456789abcdef0123456789ABCDEF01","chain":"polygon","from_block":1,"to_block":18446744073709551616}`, "to_block", "must be a JSON number"},
		{VideoEnhancement, `{"video_id":"v1","source_url":"s3://bucket/v1","duration_seconds":1e300}`, "duration_seconds", "and 3600"},
		{VideoEnhancement, `{"video_id":"v1","source_url":"s3://bucket/v1","duration_seconds":3,"width":-720,"height":-1280}`, "width", "between 1 and 8192"},
	}
	for _, tt := range tests {
		spec, err := reg.Spec(tt.queue)
		if err != nil {
			t.Fatal(err)
		}
		err = spec.Validate(json.RawMessage(tt.data))
		name := tt.queue + " " + truncate(tt.data, 60)
		if tt.field == "" {
			if err != nil {
				t.Errorf("%s: unexpected error %v", name, err)
			}
			continue
		}
		var ve *ValidationError
		if !errors.As(err, &ve) || !errors.Is(err, ErrInvalidPayload) {
			t.Errorf("%s: error %v is not a *ValidationError", name, err)
			continue
		}
		wantField := tt.field
		if wantField == "-" {
			wantField = ""
		}
		if ve.Queue != tt.queue || ve.Field != wantField || !strings.Contains(ve.Reason, tt.reason) {
			t.Errorf("%s: got queue %q field %q reason %q, want field %q reason containing %q", name, ve.Queue, ve.Field, ve.Reason, wantField, tt.reason)
		}
		if !strings.Contains(err.Error(), tt.queue) {
			t.Errorf("%s: message %q does not name the queue", name, err)
		}
	}
}

func TestUnknownQueue(t *testing.T) {
	t.Parallel()
	reg, _ := NewRegistry(nil)
	_, err := reg.Spec("transcode")
	if !errors.Is(err, ErrUnknownQueue) || !strings.Contains(err.Error(), "video-enhancement") {
		t.Fatalf("err = %v", err)
	}
	if _, err := reg.ParseQueues("analytics, nope"); !errors.Is(err, ErrUnknownQueue) {
		t.Errorf("ParseQueues: %v", err)
	}
	qs, err := reg.ParseQueues(" analytics,privacy-audit,analytics ")
	if err != nil || strings.Join(qs, ",") != "analytics,privacy-audit" {
		t.Errorf("ParseQueues = %v, %v", qs, err)
	}
	if qs, _ := reg.ParseQueues(""); len(qs) != 5 {
		t.Errorf("ParseQueues(\"\") = %v", qs)
	}
}

func run(t *testing.T, reg *Registry, queue, data string, out any) {
	t.Helper()
	spec, err := reg.Spec(queue)
	if err != nil {
		t.Fatal(err)
	}
	res, err := spec.Run(context.Background(), json.RawMessage(data))
	if err != nil {
		t.Fatalf("%s: %v", queue, err)
	}
	b, _ := json.Marshal(res)
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
}

func TestLocalHandlers(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC)
	reg, _ := NewRegistry(&RegistryConfig{Now: func() time.Time { return now }, Handlers: Handlers{Video: LocalVideoEnhancer{}}})

	t.Run("video plan skips upscaling", func(t *testing.T) {
		var r VideoEnhancementResult
		run(t, reg, VideoEnhancement, `{"video_id":"v1","source_url":"https://cdn.example/v1.mp4","duration_seconds":10,"preset":"hd","width":1280,"height":720}`, &r)
		if len(r.Renditions) != 2 || r.Renditions[0].Name != "480p" || r.Renditions[1].Name != "720p" ||
			len(r.Skipped) != 1 || r.Skipped[0] != "1080p" || r.Enhancer != "local-plan" {
			t.Errorf("plan = %+v", r)
		}
		// (2500+128) kbit/s for 10 s = 3 285 000 bytes.
		if r.Renditions[1].EstimatedBytes != 3285000 {
			t.Errorf("720p estimate = %d", r.Renditions[1].EstimatedBytes)
		}
		run(t, reg, VideoEnhancement, `{"video_id":"v2","source_url":"s3://b/v2","duration_seconds":1,"width":200,"height":150}`, &r)
		if r.Preset != "standard" || len(r.Renditions) != 1 || r.Renditions[0].Height != 150 {
			t.Errorf("tiny source plan = %+v", r)
		}
	})
	t.Run("analytics counters", func(t *testing.T) {
		var s AnalyticsSummary
		run(t, reg, Analytics, `{"events":[
			{"type":"view","video_id":"b","user_id":"u1","watch_ms":1000,"at":"2026-11-26T10:00:00Z"},
			{"type":"view","video_id":"a","user_id":"u2","watch_ms":500,"at":"2026-11-26T09:00:00Z"},
			{"type":"like","video_id":"a","user_id":"u1"},
			{"type":"share","video_id":"a"},
			{"type":"comment","video_id":"b","user_id":"u3"}]}`, &s)
		if s.Events != 5 || s.UniqueUsers != 3 || s.WatchMS != 1500 || s.ByType["view"] != 2 || len(s.Videos) != 2 ||
			s.Videos[0].VideoID != "a" || s.Videos[0].Likes != 1 || s.Videos[0].Shares != 1 || s.Videos[1].Comments != 1 ||
			s.From == nil || s.From.Hour() != 9 || s.To.Hour() != 10 {
			t.Errorf("summary = %+v", s)
		}
	})
	t.Run("chain batches", func(t *testing.T) {
		var r ChainSyncResult
		run(t, reg, BlockchainSync, `{"wallet":"0xAbCdEf0123456789abcdef0123456789ABCDEF01","chain":"base","from_block":100,"to_block":25099}`, &r)
		if r.Blocks != 25000 || len(r.Batches) != 3 || r.Batches[2] != (BlockRange{From: 20100, To: 25099}) || r.Synced ||
			r.Wallet != "0xabcdef0123456789abcdef0123456789abcdef01" {
			t.Errorf("result = %+v", r)
		}
	})
	t.Run("memories", func(t *testing.T) {
		var r MemoryMiningResult
		run(t, reg, MemoryMining, `{"user_id":"u1","videos":[
			{"video_id":"otd1","created_at":"2024-11-26T08:00:00Z","views":10},
			{"video_id":"otd2","created_at":"2021-11-26T08:00:00Z","views":100},
			{"video_id":"recent","created_at":"2026-11-20T08:00:00Z","views":99999},
			{"video_id":"top","created_at":"2025-03-01T08:00:00Z","views":10,"likes":10,"shares":1,"comments":1}]}`, &r)
		if r.Date != "2026-11-26" || r.Considered != 4 || len(r.Memories) != 3 ||
			r.Memories[0].VideoID != "otd2" || r.Memories[0].YearsAgo != 5 || r.Memories[1].VideoID != "otd1" ||
			r.Memories[2].VideoID != "top" || r.Memories[2].Kind != "top_moment" || r.Memories[2].Score != 73 {
			t.Errorf("memories = %+v", r)
		}
	})
	t.Run("privacy report", func(t *testing.T) {
		var r PrivacyAuditReport
		run(t, reg, PrivacyAudit, `{"request_id":"r-9","user_id":"u1","kind":"deletion","received_at":"2026-11-01T12:00:00Z"}`, &r)
		if r.RespondBy != time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC) || len(r.Categories) != len(DefaultDataInventory) {
			t.Fatalf("report = %+v", r)
		}
		actions := map[string]string{}
		for _, c := range r.Categories {
			actions[c.Name] = c.Action
			if c.Retention == "" {
				t.Errorf("category %s has no retention", c.Name)
			}
		}
		if actions["identity"] != "delete" || actions["usage_analytics"] != "anonymize" || !strings.HasPrefix(actions["wallet"], "retain: ") {
			t.Errorf("deletion actions = %v", actions)
		}
		run(t, reg, PrivacyAudit, `{"request_id":"r-10","user_id":"u1","kind":"consent_withdrawal","categories":["location","device"]}`, &r)
		if len(r.Categories) != 2 || r.Categories[0].Action != "stop processing and delete" ||
			!strings.HasPrefix(r.Categories[1].Action, "no change") || !r.ReceivedAt.Equal(now) {
			t.Errorf("withdrawal report = %+v", r)
		}
	})
}

// TestPrivacyFarFutureDateRefused: issue 10 item 12. A privacy request
// dated 9999-12-31T23:59:59Z was accepted (202) and then failed forever
// (inline: 500, its respond_by is past year 9999 and cannot be encoded).
// It is now a validation error naming the field, inline and over HTTP.
func TestPrivacyFarFutureDateRefused(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC)
	reg, _ := NewRegistry(&RegistryConfig{Now: func() time.Time { return now }})
	d, _ := NewDispatcher(reg, nil, nil)
	ctx := context.Background()
	far := `{"request_id":"r1","user_id":"u1","kind":"access","received_at":"9999-12-31T23:59:59Z"}`
	_, err := d.Enqueue(ctx, PrivacyAudit, "", json.RawMessage(far), nil)
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Field != "received_at" || !strings.Contains(err.Error(), "privacy-audit: invalid payload: field received_at") {
		t.Fatalf("far-future request: %v", err)
	}
	// The edges of the window, against the registry's clock.
	for in, ok := range map[string]bool{
		now.Add(MaxFutureSkew).Format(time.RFC3339):               true,
		now.Add(MaxFutureSkew + time.Second).Format(time.RFC3339): false,
		"2000-01-01T00:00:00Z":                                    true,
		"1999-12-31T23:59:59Z":                                    false,
	} {
		data := `{"request_id":"r1","user_id":"u1","kind":"access","received_at":"` + in + `"}`
		res, err := d.Enqueue(ctx, PrivacyAudit, "", json.RawMessage(data), nil)
		if ok != (err == nil) || ok && res.Mode != ModeSync {
			t.Errorf("received_at %s: %+v, %v (want accepted: %v)", in, res, err, ok)
		}
	}

	mux := http.NewServeMux()
	for _, r := range Routes(d, nil, nil) {
		mux.Handle(r.Pattern, r.Handler)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	req, _ := http.NewRequest("POST", srv.URL+"/api/jobs/privacy-audit", strings.NewReader(`{"data":`+far+`}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "field received_at: must be between") {
		t.Errorf("POST: %d %s", resp.StatusCode, b)
	}
}
