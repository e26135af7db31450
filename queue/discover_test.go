package queue

import (
	"reflect"
	"strings"
	"testing"
)

func TestListQueues(t *testing.T) {
	b := setup(t)
	prefix := b.name // unique per test: nothing else lives under it
	mk := func(name string) *Queue {
		q, err := NewQueue(b.client, name, &QueueOptions{Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	if got, err := ListQueues(b.ctx, b.client, prefix); err != nil || len(got) != 0 {
		t.Fatalf("empty prefix: got %v, %v; want none", got, err)
	}
	if _, err := mk("video").Add(b.ctx, "x", map[string]int{"n": 1}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := mk("{analytics}").Add(b.ctx, "x", nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := mk("paused-only").Pause(b.ctx); err != nil {
		t.Fatal(err)
	}
	// Not queues: a key shaped like a job's sub-key, a queue under another
	// prefix that the unescaped glob would match, and a queue with no meta.
	b.client.Set(b.ctx, prefix+":video:123:meta", "x", 0)
	other, err := NewQueue(b.client, "elsewhere", &QueueOptions{Prefix: prefix + "X"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Add(b.ctx, "x", nil, nil); err != nil {
		t.Fatal(err)
	}
	b.client.RPush(b.ctx, prefix+":nometa:wait", "1")

	got, err := ListQueues(b.ctx, b.client, prefix)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"paused-only", "video", "{analytics}"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ListQueues = %q, want %q", got, want)
	}
}

func TestListQueuesGlobCharactersInPrefix(t *testing.T) {
	b := setup(t)
	star := b.name + "*"
	q, err := NewQueue(b.client, "a", &QueueOptions{Prefix: b.name + "zz"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.Add(b.ctx, "x", nil, nil); err != nil {
		t.Fatal(err)
	}
	got, err := ListQueues(b.ctx, b.client, star)
	if err != nil || len(got) != 0 {
		t.Fatalf("prefix %q matched another prefix's queues: %v, %v", star, got, err)
	}
	if _, err := ListQueues(b.ctx, b.client, strings.Repeat("p", 513)); err == nil {
		t.Fatal("a 513-byte prefix was accepted")
	}
}
