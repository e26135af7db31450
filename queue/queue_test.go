package queue

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"testing"
	"time"
)

// Checklist 2: a Go add with no options.
func TestConformance02_AddNoOptions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	job, err := b.q.Add(b.ctx, "hello", map[string]any{"x": 1, "s": "<a&b>"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if job.ID != "1" {
		t.Fatalf("id = %q, want 1", job.ID)
	}
	h := b.client.HGetAll(b.ctx, b.q.k.job("1")).Val()
	if len(h) != 6 {
		t.Fatalf("hash has %d fields, want exactly 6: %v", len(h), sortedKeys(h))
	}
	if h["name"] != "hello" || h["data"] != `{"s":"<a&b>","x":1}` || h["delay"] != "0" || h["priority"] != "0" {
		t.Fatalf("hash = %v", h)
	}
	var opts map[string]any
	if err := json.Unmarshal([]byte(h["opts"]), &opts); err != nil || !reflect.DeepEqual(opts, map[string]any{"attempts": 0.0}) {
		t.Fatalf("opts = %s (%v)", h["opts"], err)
	}
	if ts, _ := strconv.ParseInt(h["timestamp"], 10, 64); time.Since(time.UnixMilli(ts)) > time.Minute {
		t.Fatalf("timestamp %s", h["timestamp"])
	}
	if got := b.client.LRange(b.ctx, b.q.k.wait(), 0, -1).Val(); !reflect.DeepEqual(got, []string{"1"}) {
		t.Fatalf("wait = %v", got)
	}
	if s, err := b.client.ZScore(b.ctx, b.q.k.marker(), "0").Result(); err != nil || s != 0 {
		t.Fatalf("marker 0: %v %v", s, err)
	}
	ev := b.client.XRange(b.ctx, b.q.k.events(), "-", "+").Val()
	if len(ev) != 2 || ev[0].Values["event"] != "added" || ev[0].Values["name"] != "hello" || ev[1].Values["event"] != "waiting" || ev[1].Values["jobId"] != "1" {
		t.Fatalf("events = %v", ev)
	}
	if m := b.client.HGet(b.ctx, b.q.k.meta(), "opts.maxLenEvents").Val(); m != "10000" {
		t.Fatalf("meta maxLenEvents = %q", m)
	}
	st, err := b.q.GetState(b.ctx, "1")
	if err != nil || st != StateWaiting {
		t.Fatalf("state %v %v", st, err)
	}
}

// Checklist 11: custom id validation mirrors Node.
func TestConformance11_CustomIDValidation(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"123", "-1", "0", "0:a:b", "a:b", "a:b:c:d"} {
		if err := ValidateJobID(id); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("ValidateJobID(%q) = %v, want rejected", id, err)
		}
	}
	for _, id := range []string{"007", "1e3", "12abc", "x:y:z", "5.0", " 5", "-0", "12345678901234567890", "abc"} {
		if err := ValidateJobID(id); err != nil {
			t.Errorf("ValidateJobID(%q) = %v, want accepted", id, err)
		}
	}
}

// Checklist 12: re-adding a custom id.
func TestConformance12_DuplicateCustomID(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if _, err := b.q.Add(b.ctx, "a", map[string]int{"v": 1}, &AddOptions{JobID: "dup"}); err != nil {
		t.Fatal(err)
	}
	before := b.client.HGetAll(b.ctx, b.q.k.job("dup")).Val()
	j, err := b.q.Add(b.ctx, "b", map[string]int{"v": 2}, &AddOptions{JobID: "dup"})
	if err != nil || j.ID != "dup" {
		t.Fatalf("dup add: %v %v", j, err)
	}
	if after := b.client.HGetAll(b.ctx, b.q.k.job("dup")).Val(); !reflect.DeepEqual(before, after) {
		t.Fatalf("hash changed: %v -> %v", before, after)
	}
	if n := b.client.Get(b.ctx, b.q.k.id()).Val(); n != "2" {
		t.Fatalf("id counter = %s, want 2", n)
	}
	ev := b.client.XRange(b.ctx, b.q.k.events(), "-", "+").Val()
	last := ev[len(ev)-1].Values
	if last["event"] != "duplicated" || last["jobId"] != "dup" {
		t.Fatalf("last event %v", last)
	}
}

func TestAddRejectsBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cases := map[string]*AddOptions{
		"Delay":          {Delay: -time.Second},
		"Priority":       {Priority: MaxPriority + 1},
		"Attempts":       {Attempts: -1},
		"Backoff.Type":   {Backoff: &Backoff{Type: "linear"}},
		"Backoff.Jitter": {Backoff: &Backoff{Type: "fixed", Jitter: 2}},
	}
	for option, o := range cases {
		_, err := b.q.Add(b.ctx, "x", nil, o)
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Option != option {
			t.Errorf("%s: got %v", option, err)
		}
	}
	if _, err := b.q.Add(b.ctx, "x", func() {}, nil); err == nil {
		t.Error("unencodable data accepted")
	}
	q, _ := NewQueue(b.client, b.name, &QueueOptions{MaxDataSize: 10})
	if _, err := q.Add(b.ctx, "x", "this is longer than ten bytes", nil); !errors.Is(err, ErrDataTooLarge) {
		t.Errorf("large data: %v", err)
	}
	if n := b.client.Exists(b.ctx, b.q.k.id()).Val(); n != 0 {
		t.Fatalf("rejected adds wrote to Redis")
	}
}
