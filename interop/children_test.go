package interop

import (
	"encoding/json"
	"testing"
)

// A Node flow whose children a Node worker ran (two results, one ignored
// failure): Go's Job.GetChildrenValues and GetIgnoredChildrenFailures on
// the parent equal Node's job.getChildrenValues and
// getIgnoredChildrenFailures.
func TestInteropChildrenValues_SameAsNode(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	parentQ, childQ := e.queueName("p"), e.queueName("c")
	parent, _ := e.nodeFlow(parentQ, childQ, map[string]any{}, []nodeJobSpec{
		{Name: "a", Data: map[string]any{"return": map[string]any{"k": "v"}}},
		{Name: "b", Data: map[string]any{"return": []any{1, "x", nil}}},
		{Name: "bad", Data: map[string]any{"fail": "ignored boom"}, Opts: map[string]any{"ignoreDependencyOnFailure": true}},
	})
	e.nodeProcess(childQ, 3, nil)
	j, err := e.goQueue(parentQ).GetJob(e.ctx, parent)
	if err != nil {
		t.Fatal(err)
	}
	vals, err := j.GetChildrenValues(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	fails, err := j.GetIgnoredChildrenFailures(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	v := e.nodeParentView(parentQ, parent)
	gv, _ := json.Marshal(vals)
	nv, _ := json.Marshal(v.ChildrenValues)
	if len(vals) != 2 || !jsonEqual(gv, nv) {
		t.Fatalf("children values: Go %s, Node %s", gv, nv)
	}
	gf, _ := json.Marshal(fails)
	nf, _ := json.Marshal(v.IgnoredFailures)
	if len(fails) != 1 || string(gf) != string(nf) {
		t.Fatalf("ignored failures: Go %s, Node %s", gf, nf)
	}
}
