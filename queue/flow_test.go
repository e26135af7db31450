package queue

import (
	"errors"
	"strings"
	"testing"
)

func newFP(t *testing.T, b *bundle) *FlowProducer {
	t.Helper()
	fp, err := NewFlowProducer(b.client, nil)
	if err != nil {
		t.Fatal(err)
	}
	return fp
}

// keysOf lists every key under the test's queue names.
func keysOf(t *testing.T, b *bundle) []string {
	t.Helper()
	ks, err := b.client.Keys(b.ctx, "bull:"+b.name+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	return sortedKeys(func() map[string]bool {
		m := map[string]bool{}
		for _, k := range ks {
			m[k] = true
		}
		return m
	}())
}

// A refused flow writes nothing: a root whose outside parent is missing,
// and a tree whose existing custom-id child already has another live
// parent (Node's MULTI would keep the nodes before the failing one).
func TestFlowProducerAllOrNothing(t *testing.T) {
	b := setup(t)
	fp := newFP(t, b)
	child := b.name + "c"

	_, err := fp.Add(b.ctx, FlowJob{Name: "root", QueueName: b.name, Opts: &FlowJobOptions{Parent: &ParentRef{ID: "gone", Queue: "bull:" + b.name}},
		Children: []FlowJob{{Name: "k", QueueName: child}}})
	if !errors.Is(err, ErrParentMissing) {
		t.Fatalf("missing outside parent: err %v, want ErrParentMissing", err)
	}
	if ks := keysOf(t, b); len(ks) != 0 {
		t.Fatalf("a refused flow wrote %v", ks)
	}

	first, err := fp.Add(b.ctx, FlowJob{Name: "p1", QueueName: b.name, Children: []FlowJob{
		{Name: "kid", QueueName: child, Opts: &FlowJobOptions{AddOptions: AddOptions{JobID: "kid"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	before := keysOf(t, b)
	evBefore := b.client.XLen(b.ctx, "bull:"+child+":events").Val()
	_, err = fp.Add(b.ctx, FlowJob{Name: "p2", QueueName: b.name, Children: []FlowJob{
		{Name: "new", QueueName: child},
		{Name: "kid", QueueName: child, Opts: &FlowJobOptions{AddOptions: AddOptions{JobID: "kid"}}}}})
	if !errors.Is(err, ErrParentNotReplaced) || !strings.Contains(err.Error(), "kid") {
		t.Fatalf("child with another parent: err %v, want ErrParentNotReplaced naming kid", err)
	}
	if after := keysOf(t, b); strings.Join(after, " ") != strings.Join(before, " ") {
		t.Fatalf("a refused flow changed the keys:\nbefore %v\nafter  %v", before, after)
	}
	if n := b.client.XLen(b.ctx, "bull:"+child+":events").Val(); n != evBefore {
		t.Fatalf("a refused flow wrote %d events", n-evBefore)
	}
	if pk := b.client.HGet(b.ctx, "bull:"+child+":kid", "parentKey").Val(); pk != "bull:"+b.name+":"+first.Job.ID {
		t.Fatalf("kid's parentKey %q", pk)
	}
}

// A flow whose only child exists and is completed: the child's value is
// recorded for the new parent, which is released into wait once the whole
// flow is stored, as Node's flow insert does.
func TestFlowProducerCompletedChildReleasesParent(t *testing.T) {
	b := setup(t)
	fp := newFP(t, b)
	child := b.name + "c"
	ck := "bull:" + child + ":done"
	b.client.HSet(b.ctx, ck, "name", "done", "data", "{}", "opts", "{}", "timestamp", 1, "delay", 0, "priority", 0,
		"returnvalue", `{"v":7}`)
	b.client.ZAdd(b.ctx, "bull:"+child+":completed", redisZ(2, "done"))
	n, err := fp.Add(b.ctx, FlowJob{Name: "p", QueueName: b.name, Children: []FlowJob{
		{Name: "done", QueueName: child, Opts: &FlowJobOptions{AddOptions: AddOptions{JobID: "done"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	pk := "bull:" + b.name + ":" + n.Job.ID
	if st, _ := b.q.GetState(b.ctx, n.Job.ID); st != StateWaiting {
		t.Fatalf("parent state %s, want waiting", st)
	}
	if v := b.client.HGet(b.ctx, pk+":processed", ck).Val(); v != `{"v":7}` {
		t.Fatalf("processed value %q", v)
	}
	if b.client.HGet(b.ctx, ck, "parentKey").Val() != pk {
		t.Fatal("the completed child was not attached to its new parent")
	}
}

// Bad trees are refused before Redis is touched, with the option named.
func TestFlowProducerBadInput(t *testing.T) {
	b := setup(t)
	fp := newFP(t, b)
	q := b.name
	cases := map[string]struct {
		flow FlowJob
		want string
	}{
		"no name":        {FlowJob{QueueName: q}, "Name"},
		"no queue":       {FlowJob{Name: "x"}, "queue name"},
		"two policies":   {FlowJob{Name: "x", QueueName: q, Children: []FlowJob{{Name: "c", QueueName: q, Opts: &FlowJobOptions{FailParentOnFailure: true, RemoveDependencyOnFailure: true}}}}, "at most one"},
		"dedup":          {FlowJob{Name: "x", QueueName: q, Opts: &FlowJobOptions{AddOptions: AddOptions{Deduplication: &Deduplication{ID: "d"}}}}, "Deduplication"},
		"integer id":     {FlowJob{Name: "x", QueueName: q, Opts: &FlowJobOptions{AddOptions: AddOptions{JobID: "12"}}}, "integers"},
		"id twice":       {FlowJob{Name: "x", QueueName: q, Children: []FlowJob{{Name: "a", QueueName: q, Opts: &FlowJobOptions{AddOptions: AddOptions{JobID: "a"}}}, {Name: "a", QueueName: q, Opts: &FlowJobOptions{AddOptions: AddOptions{JobID: "a"}}}}}, "twice"},
		"child parent":   {FlowJob{Name: "x", QueueName: q, Children: []FlowJob{{Name: "a", QueueName: q, Opts: &FlowJobOptions{Parent: &ParentRef{ID: "p", Queue: "bull:" + q}}}}}, "only a root"},
		"parent no id":   {FlowJob{Name: "x", QueueName: q, Opts: &FlowJobOptions{Parent: &ParentRef{Queue: "bull:" + q}}}, "needs ID"},
		"negative delay": {FlowJob{Name: "x", QueueName: q, Opts: &FlowJobOptions{AddOptions: AddOptions{Delay: -1}}}, "Delay"},
	}
	for name, c := range cases {
		_, err := fp.Add(b.ctx, c.flow)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want one naming %q", name, err, c.want)
		}
	}
	if ks := keysOf(t, b); len(ks) != 0 {
		t.Fatalf("refused flows wrote %v", ks)
	}
}

// AddBulk stores several flows in one call, or none of them when one is
// invalid.
func TestFlowProducerAddBulk(t *testing.T) {
	b := setup(t)
	fp := newFP(t, b)
	kid := func(name string) []FlowJob { return []FlowJob{{Name: name, QueueName: b.name + "c"}} }
	if _, err := fp.AddBulk(b.ctx, []FlowJob{{Name: "a", QueueName: b.name, Children: kid("x")},
		{Name: "", QueueName: b.name}}); err == nil || !strings.Contains(err.Error(), "flow 1") {
		t.Fatalf("invalid second flow: err %v, want one naming flow 1", err)
	}
	if ks := keysOf(t, b); len(ks) != 0 {
		t.Fatalf("a refused AddBulk wrote %v", ks)
	}
	nodes, err := fp.AddBulk(b.ctx, []FlowJob{{Name: "a", QueueName: b.name, Children: kid("x")},
		{Name: "b", QueueName: b.name, Children: kid("y")}})
	if err != nil || len(nodes) != 2 {
		t.Fatalf("AddBulk: %v, %d nodes", err, len(nodes))
	}
	for _, n := range nodes {
		if st, _ := b.q.GetState(b.ctx, n.Job.ID); st != StateWaitingChildren || n.Queue != "bull:"+b.name {
			t.Fatalf("root %s (%s) is %s", n.Job.ID, n.Queue, st)
		}
		deps := b.client.SMembers(b.ctx, "bull:"+b.name+":"+n.Job.ID+":dependencies").Val()
		if len(deps) != 1 || deps[0] != "bull:"+b.name+"c:"+n.Children[0].Job.ID {
			t.Fatalf("root %s dependencies %v", n.Job.ID, deps)
		}
	}
}
