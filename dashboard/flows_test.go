package dashboard_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/zyeute/zyeute-redis/dashboard"
	"github.com/zyeute/zyeute-redis/queue"
)

// goFlow adds, with Go's FlowProducer, a parent in parentQ waiting for n
// children in childQ, and returns the parent's id and the children's ids.
func (b *bundle) goFlow(parentQ, childQ string, n int) (string, []string) {
	b.t.Helper()
	fp, err := queue.NewFlowProducer(b.rc, &queue.FlowProducerOptions{Prefix: b.prefix})
	if err != nil {
		b.t.Fatal(err)
	}
	kids := make([]queue.FlowJob, n)
	for i := range kids {
		kids[i] = queue.FlowJob{Name: "part", QueueName: childQ, Data: map[string]any{"i": i}}
	}
	node, err := fp.Add(context.Background(), queue.FlowJob{Name: "assemble", QueueName: parentQ, Data: map[string]any{}, Children: kids})
	if err != nil {
		b.t.Fatal(err)
	}
	ids := make([]string, len(node.Children))
	for i, c := range node.Children {
		ids[i] = c.Job.ID
	}
	return node.Job.ID, ids
}

type pendingAnswer struct {
	PendingChildren []struct{ Queue, ID, Key string } `json:"pending_children"`
	PendingCursor   string                            `json:"pending_cursor"`
}

func (b *bundle) pending(path string) pendingAnswer {
	b.t.Helper()
	resp, body := b.req("GET", path, bearer, "")
	if resp.StatusCode != 200 {
		b.t.Fatalf("GET %s: %d %v", path, resp.StatusCode, body)
	}
	var p pendingAnswer
	for _, c := range body["pending_children"].([]any) {
		m := c.(map[string]any)
		p.PendingChildren = append(p.PendingChildren, struct{ Queue, ID, Key string }{m["queue"].(string), m["id"].(string), m["key"].(string)})
	}
	p.PendingCursor, _ = body["pending_cursor"].(string)
	return p
}

// TestJobPagePendingChildren: a flow made by Go's FlowProducer: the
// parent's page lists its children not finished yet, linked to their
// queue; once a child completes it moves to the processed children with
// its result.
func TestJobPagePendingChildren(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	parentID, kids := b.goFlow("orders", "parts", 3)
	jobPath := dashboard.APIPath + "/queues/orders/jobs/" + parentID

	p := b.pending(jobPath)
	got := []string{}
	for _, c := range p.PendingChildren {
		if c.Queue != "parts" || c.Key != b.prefix+":parts:"+c.ID {
			t.Errorf("pending child link %+v", c)
		}
		got = append(got, c.ID)
	}
	slices.Sort(got)
	want := slices.Clone(kids)
	slices.Sort(want)
	if !slices.Equal(got, want) || p.PendingCursor != "" {
		t.Fatalf("pending children %v (cursor %q), want %v", got, p.PendingCursor, want)
	}
	_, body := b.req("GET", jobPath, bearer, "")
	if body["state"] != "waiting-children" || len(body["children"].([]any)) != 0 {
		t.Errorf("parent page: %v", body)
	}

	// One child done by hand.
	w, err := queue.NewWorker(b.rc, "parts", nil, &queue.WorkerOptions{Prefix: b.prefix, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close(context.Background()) })
	j, err := w.GetNextJob(ctx, "tok-1")
	if err != nil || j == nil {
		t.Fatalf("GetNextJob: %v %v", j, err)
	}
	if err := j.MoveToCompleted(ctx, "done", "tok-1"); err != nil {
		t.Fatal(err)
	}
	if p = b.pending(jobPath); len(p.PendingChildren) != 2 || slices.ContainsFunc(p.PendingChildren, func(c struct{ Queue, ID, Key string }) bool { return c.ID == j.ID }) {
		t.Errorf("pending after one child completed: %+v (completed %s)", p.PendingChildren, j.ID)
	}
	_, body = b.req("GET", jobPath, bearer, "")
	if cs := body["children"].([]any); len(cs) != 1 || cs[0].(map[string]any)["id"] != j.ID || cs[0].(map[string]any)["value"] != "done" {
		t.Errorf("processed children: %v", body["children"])
	}
	// A child's page has no pending children of its own.
	if p = b.pending(dashboard.APIPath + "/queues/parts/jobs/" + kids[0]); len(p.PendingChildren) != 0 {
		t.Errorf("a leaf lists pending children: %+v", p)
	}
}

// TestPendingChildrenPaged: a parent with 300 children (more than one
// SSCAN page) is listed a bounded page at a time; following the cursor
// gives every child.
func TestPendingChildrenPaged(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	parentID, kids := b.goFlow("batch", "items", 300)
	base := dashboard.APIPath + "/queues/batch/jobs/" + parentID
	seen := map[string]bool{}
	p := b.pending(base)
	pages := 1
	for {
		if len(p.PendingChildren) > 200 {
			t.Fatalf("a page of %d children (bound 200)", len(p.PendingChildren))
		}
		for _, c := range p.PendingChildren {
			seen[c.ID] = true
		}
		if p.PendingCursor == "" {
			break
		}
		if pages++; pages > 100 {
			t.Fatal("more than 100 pages for 300 children")
		}
		p = b.pending(base + "/children?cursor=" + url.QueryEscape(p.PendingCursor))
	}
	if pages < 2 {
		t.Errorf("300 children came in %d page(s), want them paged", pages)
	}
	for _, id := range kids {
		if !seen[id] {
			t.Fatalf("child %s never listed (%d of %d seen in %d pages)", id, len(seen), len(kids), pages)
		}
	}
	if len(seen) != len(kids) {
		t.Errorf("%d children listed, want %d", len(seen), len(kids))
	}
	resp, body := b.req("GET", base+"/children?cursor=abc", bearer, "")
	if resp.StatusCode != 400 || !strings.Contains(fmt.Sprint(body["error"]), "cursor") {
		t.Errorf("bad cursor: %d %v", resp.StatusCode, body)
	}
	resp, _ = b.req("GET", dashboard.APIPath+"/queues/batch/jobs/nope/children", bearer, "")
	if resp.StatusCode != 404 {
		t.Errorf("children of a missing job: %d", resp.StatusCode)
	}
}
