package interop

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/queue"
)

// flowOptsFromNode turns the Node option names these tests use into the Go
// FlowProducer's options; an unknown name fails the test.
func flowOptsFromNode(t testing.TB, m map[string]any) *queue.FlowJobOptions {
	t.Helper()
	if m == nil {
		return nil
	}
	o := &queue.FlowJobOptions{}
	keep := func(v any) *queue.KeepJobs {
		switch x := v.(type) {
		case bool:
			if x {
				return queue.RemoveAll()
			}
			return queue.KeepAll()
		case int:
			return queue.KeepLast(x)
		}
		t.Fatalf("keep value %v", v)
		return nil
	}
	for k, v := range m {
		switch k {
		case "jobId":
			o.JobID = v.(string)
		case "delay":
			o.Delay = time.Duration(v.(int)) * time.Millisecond
		case "priority":
			o.Priority = v.(int)
		case "attempts":
			o.Attempts = v.(int)
		case "lifo":
			o.LIFO = v.(bool)
		case "backoff":
			b := v.(map[string]any)
			o.Backoff = &queue.Backoff{Type: b["type"].(string), Delay: time.Duration(b["delay"].(int)) * time.Millisecond}
		case "removeOnComplete":
			o.RemoveOnComplete = keep(v)
		case "removeOnFail":
			o.RemoveOnFail = keep(v)
		case "failParentOnFailure":
			o.FailParentOnFailure = v.(bool)
		case "continueParentOnFailure":
			o.ContinueParentOnFailure = v.(bool)
		case "ignoreDependencyOnFailure":
			o.IgnoreDependencyOnFailure = v.(bool)
		case "removeDependencyOnFailure":
			o.RemoveDependencyOnFailure = v.(bool)
		default:
			t.Fatalf("flowOptsFromNode: option %q not mapped", k)
		}
	}
	return o
}

// goFlowOpts is nodeFlowOpts with the Go FlowProducer.
func (e *env) goFlowOpts(parentQ string, parentOpts map[string]any, childQ, idleQ string, children []flowFixChild) (string, []string) {
	e.t.Helper()
	root := queue.FlowJob{Name: "parent", QueueName: parentQ, Data: map[string]any{}, Opts: flowOptsFromNode(e.t, parentOpts)}
	for _, c := range children {
		q := childQ
		if c.idle {
			q = idleQ
		}
		root.Children = append(root.Children, queue.FlowJob{Name: c.spec.Name, QueueName: q, Data: c.spec.Data,
			Opts: flowOptsFromNode(e.t, c.spec.Opts)})
	}
	n := e.goFlow(root)
	var ids []string
	for _, c := range n.Children {
		ids = append(ids, c.Job.ID)
	}
	return n.Job.ID, ids
}

func (e *env) goFlow(root queue.FlowJob) *queue.JobNode {
	e.t.Helper()
	fp, err := queue.NewFlowProducer(e.c, &queue.FlowProducerOptions{Prefix: e.prefix})
	if err != nil {
		e.t.Fatal(err)
	}
	n, err := fp.Add(e.ctx, root)
	if err != nil {
		e.t.Fatalf("Go FlowProducer.Add: %v", err)
	}
	return n
}

// flowSpec is one node of a test flow, on queue label P, C or G.
type flowSpec struct {
	name, queue string
	data        any
	opts        map[string]any
	children    []flowSpec
}

func (f flowSpec) node(names map[string]string) map[string]any {
	m := map[string]any{"name": f.name, "queueName": names[f.queue], "data": f.data}
	if f.opts != nil {
		m["opts"] = f.opts
	}
	var kids []any
	for _, c := range f.children {
		kids = append(kids, c.node(names))
	}
	if kids != nil {
		m["children"] = kids
	}
	return m
}

func (f flowSpec) goJob(t testing.TB, names map[string]string) queue.FlowJob {
	j := queue.FlowJob{Name: f.name, QueueName: names[f.queue], Data: f.data, Opts: flowOptsFromNode(t, f.opts)}
	for _, c := range f.children {
		j.Children = append(j.Children, c.goJob(t, names))
	}
	return j
}

var uuidRe = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}`)

// flowState renders every key of the labelled queues, normalized: queue
// names become their labels, UUID ids "UUID", add times and due times
// "T"; JSON fields are decoded (key order free); events keep their order.
func flowState(t *testing.T, e *env, names map[string]string) map[string]string {
	t.Helper()
	return queueStates(t, e, names, nil)
}

// queueStates is flowState with fix applied to every decoded job or
// scheduler hash (after the timestamp field became "T").
func queueStates(t *testing.T, e *env, names map[string]string, fix func(h map[string]any)) map[string]string {
	t.Helper()
	out := map[string]string{}
	for label, name := range names {
		base := e.prefix + ":" + name + ":"
		keys, err := e.c.Keys(e.ctx, base+"*").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range keys {
			var v any
			switch typ := e.c.Type(e.ctx, key).Val(); typ {
			case "string":
				v = e.c.Get(e.ctx, key).Val()
			case "list":
				v = e.c.LRange(e.ctx, key, 0, -1).Val()
			case "set":
				var ms []string
				for _, m := range e.c.SMembers(e.ctx, key).Val() {
					for l, n := range names {
						m = strings.ReplaceAll(m, n, l)
					}
					ms = append(ms, uuidRe.ReplaceAllString(m, "UUID"))
				}
				v = sortedStrings(ms)
			case "hash":
				h := e.c.HGetAll(e.ctx, key).Val()
				m := map[string]any{}
				for f, s := range h {
					var j any
					switch {
					case f == "timestamp":
						m[f] = "T"
					case (f == "opts" || f == "parent" || f == "data") && json.Unmarshal([]byte(s), &j) == nil:
						m[f] = j
					default:
						m[f] = s
					}
				}
				if fix != nil {
					fix(m)
				}
				v = m
			case "zset":
				var zs []string
				for _, z := range e.c.ZRangeWithScores(e.ctx, key, 0, -1).Val() {
					score := "T"
					if strings.HasSuffix(key, ":prioritized") {
						score = fmt.Sprintf("%.0f", z.Score)
					}
					zs = append(zs, fmt.Sprintf("%v@%s", z.Member, score))
				}
				v = zs
			case "stream":
				var evs []map[string]any
				for _, x := range e.streamEntries(name) {
					if _, ok := x.Values["delay"]; ok {
						x.Values["delay"] = "T"
					}
					evs = append(evs, x.Values)
				}
				v = evs
			default:
				t.Fatalf("key %s of type %s", key, typ)
			}
			s := label + ":" + strings.TrimPrefix(key, base)
			out[s] = mustJSON(t, v)
		}
	}
	// names and UUIDs inside keys and values
	norm := map[string]string{}
	for k, v := range out {
		for label, name := range names {
			k = strings.ReplaceAll(k, name, label)
			v = strings.ReplaceAll(v, name, label)
		}
		norm[uuidRe.ReplaceAllString(k, "UUID")] = uuidRe.ReplaceAllString(v, "UUID")
	}
	return norm
}

// The Go FlowProducer writes what Node's writes, key by key: a three-level
// tree over three queues with every failure policy, custom and UUID ids,
// delayed, prioritized, lifo and retention options.
func TestInteropFlowProducer_SameStateAsNode(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tree := flowSpec{name: "root", queue: "P", data: map[string]any{"return": "root"}, opts: map[string]any{"jobId": "root", "attempts": 3},
		children: []flowSpec{
			{name: "c1", queue: "C", data: map[string]any{"return": 1}, opts: map[string]any{"jobId": "c1", "failParentOnFailure": true,
				"attempts": 2, "backoff": map[string]any{"type": "fixed", "delay": 1000}}},
			{name: "c2", queue: "C", data: map[string]any{"return": 2}, opts: map[string]any{"delay": 60000}},
			{name: "c3", queue: "C", data: "text", opts: map[string]any{"jobId": "c3", "priority": 3, "removeDependencyOnFailure": true}},
			{name: "mid", queue: "G", data: map[string]any{"s": "x/y"}, opts: map[string]any{"jobId": "mid", "continueParentOnFailure": true},
				children: []flowSpec{
					{name: "g1", queue: "C", data: map[string]any{}, opts: map[string]any{"jobId": "g1", "ignoreDependencyOnFailure": true, "lifo": true}},
					{name: "g2", queue: "C", data: []any{1, "two"}, opts: map[string]any{"jobId": "g2", "removeOnComplete": true, "removeOnFail": 5}},
				}},
		}}
	nodeNames := map[string]string{"P": e.queueName("np"), "C": e.queueName("nc"), "G": e.queueName("ng")}
	goNames := map[string]string{"P": e.queueName("gp"), "C": e.queueName("gc"), "G": e.queueName("gg")}

	p := startPeer(e.ctx, t, "flow", e.args(nodeNames["P"], map[string]any{"flow": tree.node(nodeNames)}))
	m := p.waitType("flow", 20*time.Second)
	p.collect(10 * time.Second)
	n := e.goFlow(tree.goJob(t, goNames))
	if n.Job.ID != m.ID || len(n.Children) != 4 || n.Children[3].Job.ID != "mid" || len(n.Children[3].Children) != 2 {
		t.Fatalf("Go tree %+v, Node root %s", n, m.ID)
	}
	if !uuidRe.MatchString(n.Children[1].Job.ID) || !uuidRe.MatchString(m.Children[1]) {
		t.Fatalf("ids without jobId: Go %q, Node %q, want UUIDv4", n.Children[1].Job.ID, m.Children[1])
	}
	want := flowState(t, e, nodeNames)
	sameState(t, want, flowState(t, e, goNames))
	if len(want) < 20 {
		t.Fatalf("only %d keys compared: %v", len(want), want)
	}
}

// sameState fails the test with every key whose content differs.
func sameState(t *testing.T, want, got map[string]string) {
	t.Helper()
	var diffs []string
	for k := range want {
		if got[k] != want[k] {
			diffs = append(diffs, fmt.Sprintf("%s:\n  node %s\n  go   %s", k, want[k], got[k]))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: only Go writes it: %s", k, got[k]))
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		t.Fatalf("Redis state differs from Node's (%d keys):\n%s", len(diffs), strings.Join(diffs, "\n"))
	}
}

// A flow made by the Go FlowProducer (a parent, a sub-parent on another
// queue, leaves) runs to the same end on Node workers and on Go workers:
// the root completes with its children's values, read back by Node.
func TestInteropFlowProducer_RunByNodeAndGoWorkers(t *testing.T) {
	t.Parallel()
	for _, engine := range []string{"node", "go"} {
		engine := engine
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			pq, cq := e.queueName("p"), e.queueName("c")
			n := e.goFlow(queue.FlowJob{Name: "root", QueueName: pq, Data: map[string]any{"return": "root done"},
				Children: []queue.FlowJob{
					{Name: "a", QueueName: cq, Data: map[string]any{"return": map[string]any{"n": 1}}},
					{Name: "sub", QueueName: cq, Data: map[string]any{"return": "sub done"}, Children: []queue.FlowJob{
						{Name: "leaf", QueueName: cq, Data: map[string]any{"return": []any{2, "two"}}},
					}},
				}})
			root, a, sub, leaf := n.Job.ID, n.Children[0].Job.ID, n.Children[1].Job.ID, n.Children[1].Children[0].Job.ID
			if !e.zscoreExists(pq, "waiting-children", root) || !e.zscoreExists(cq, "waiting-children", sub) {
				t.Fatal("parents not in waiting-children")
			}
			switch engine {
			case "node":
				startPeer(e.ctx, t, "work", e.args(cq, map[string]any{"exitAfter": 3})).waitType("done", 60*time.Second)
				startPeer(e.ctx, t, "work", e.args(pq, map[string]any{"exitAfter": 1})).waitType("done", 60*time.Second)
			default:
				wc, rc := e.goWorker(cq, nil, nil)
				rc.waitFinals(t, 3, 60*time.Second)
				closeWorker(t, wc)
				wp, rp := e.goWorker(pq, nil, nil)
				rp.waitFinals(t, 1, 60*time.Second)
				closeWorker(t, wp)
			}
			v := e.nodeParentView(pq, root)
			if v.State != "completed" || v.Job == nil || string(v.Job.ReturnValue) != `"root done"` {
				t.Fatalf("%s workers: Node view of the root: state %s, job %+v", engine, v.State, v.Job)
			}
			want := map[string]string{e.key(cq, a): `{"n":1}`, e.key(cq, sub): `"sub done"`}
			if len(v.ChildrenValues) != len(want) {
				t.Fatalf("root children values %s, want %v", mustJSON(t, v.ChildrenValues), want)
			}
			for k, w := range want {
				if !jsonEqual(v.ChildrenValues[k], []byte(w)) {
					t.Fatalf("root children values %s, want %v", mustJSON(t, v.ChildrenValues), want)
				}
			}
			sv := e.nodeParentView(cq, sub)
			if sv.State != "completed" || !jsonEqual(sv.ChildrenValues[e.key(cq, leaf)], []byte(`[2,"two"]`)) {
				t.Fatalf("sub-parent: state %s, children values %s", sv.State, mustJSON(t, sv.ChildrenValues))
			}
		})
	}
}

// continueParentOnFailure and removeDependencyOnFailure end to end: the
// same flow made by Node's FlowProducer or Go's, its children run by Node
// or Go workers — four runs, one outcome, and the outcome BullMQ documents.
func TestInteropFlowProducer_CpofRdof(t *testing.T) {
	t.Parallel()
	fail := map[string]any{"fail": "boom"}
	cases := []flowFixCase{
		{
			// cpof: the parent is released at once though a sibling is
			// pending; the failure is readable in the parent's :failed.
			name: "ContinueParentOnFailure",
			children: []flowFixChild{
				{spec: nodeJobSpec{Name: "bad", Data: fail, Opts: map[string]any{"continueParentOnFailure": true}}},
				{spec: nodeJobSpec{Name: "idle", Data: map[string]any{}}, idle: true},
			},
			want: func(t *testing.T, o flowFixOutcome) {
				if !reflect.DeepEqual(o.Where, []string{"wait"}) || !reflect.DeepEqual(o.Events, []string{"waiting/waiting-children"}) ||
					!reflect.DeepEqual(o.Deps, []string{"c1"}) || !containsKey(o.Keys, "parent:failed") || o.Defa != "" {
					t.Fatalf("%+v", o)
				}
			},
		},
		{
			// rdof: the failed child stops being a dependency and leaves no
			// trace; the parent is released with its last dependency.
			name: "RemoveDependencyOnFailure",
			children: []flowFixChild{
				{spec: nodeJobSpec{Name: "bad", Data: fail, Opts: map[string]any{"removeDependencyOnFailure": true}}},
				{spec: nodeJobSpec{Name: "ok", Data: map[string]any{"return": 1}}},
			},
			want: func(t *testing.T, o flowFixOutcome) {
				if !reflect.DeepEqual(o.Where, []string{"wait"}) || len(o.Deps) != 0 || containsKey(o.Keys, "parent:failed") ||
					containsKey(o.Keys, "parent:unsuccessful") || !containsKey(o.Keys, "parent:processed") {
					t.Fatalf("%+v", o)
				}
			},
		},
		{
			// rdof with a sibling pending: the parent keeps waiting.
			name: "RemoveDependencyOnFailurePendingSibling",
			children: []flowFixChild{
				{spec: nodeJobSpec{Name: "bad", Data: fail, Opts: map[string]any{"removeDependencyOnFailure": true}}},
				{spec: nodeJobSpec{Name: "idle", Data: map[string]any{}}, idle: true},
			},
			want: func(t *testing.T, o flowFixOutcome) {
				if !reflect.DeepEqual(o.Where, []string{"waiting-children"}) || !reflect.DeepEqual(o.Deps, []string{"c1"}) || len(o.Events) != 0 {
					t.Fatalf("%+v", o)
				}
			},
		},
	}
	for _, tc := range cases {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			ref := runFlowFixBy(t, e, "", "node", tc)
			tc.want(t, ref)
			for _, run := range [][2]string{{"", "go"}, {"go", "node"}, {"go", "go"}} {
				got := runFlowFixBy(t, e, run[0], run[1], tc)
				if !reflect.DeepEqual(ref, got) {
					t.Fatalf("producer %q, %s workers: outcome differs:\nnode/node %+v\ngot       %+v", run[0], run[1], ref, got)
				}
			}
		})
	}
}

// treeView is a flow tree as the getflow peer scenario prints it.
type treeView struct {
	ID       string     `json:"id"`
	Name     string     `json:"name"`
	Queue    string     `json:"queue"`
	Children []treeView `json:"children,omitempty"`
}

// goTree renders a Go JobNode like the peer, children sorted by id (Node
// lists them in SCAN order).
func goTree(n *queue.JobNode) treeView {
	v := treeView{ID: n.Job.ID, Name: n.Job.Name, Queue: n.Queue}
	for _, c := range n.Children {
		v.Children = append(v.Children, goTree(c))
	}
	sortTree(&v)
	return v
}

func sortTree(v *treeView) {
	sort.Slice(v.Children, func(i, j int) bool { return v.Children[i].ID < v.Children[j].ID })
	for i := range v.Children {
		sortTree(&v.Children[i])
	}
}

func (e *env) nodeGetFlow(name, id string, depth int) treeView {
	e.t.Helper()
	p := startPeer(e.ctx, e.t, "getflow", e.args(name, map[string]any{"id": id, "depth": depth, "maxChildren": 20}))
	m := p.waitType("tree", 20*time.Second)
	p.collect(10 * time.Second)
	var out struct {
		Tree treeView `json:"tree"`
	}
	if err := json.Unmarshal(m.Raw, &out); err != nil {
		e.t.Fatal(err)
	}
	sortTree(&out.Tree)
	return out.Tree
}

// queue.GetFlow reads the tree Node's getFlow reads: a Node-made flow over
// three queues, with processed and pending children, at full depth and
// cut at depth 2; the Go FlowProducer's returned tree is the same too.
func TestInteropGetFlow_SameAsNode(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	names := map[string]string{"P": e.queueName("p"), "C": e.queueName("c"), "G": e.queueName("g")}
	tree := flowSpec{name: "root", queue: "P", data: map[string]any{}, opts: map[string]any{"jobId": "root"},
		children: []flowSpec{
			{name: "c1", queue: "C", data: map[string]any{"return": 1}, opts: map[string]any{"jobId": "c1"}},
			{name: "mid", queue: "G", data: map[string]any{}, opts: map[string]any{"jobId": "mid"}, children: []flowSpec{
				{name: "g1", queue: "C", data: map[string]any{"return": 2}, opts: map[string]any{"jobId": "g1"}},
				{name: "g2", queue: "P", data: map[string]any{}, opts: map[string]any{"jobId": "g2"}},
			}},
		}}
	p := startPeer(e.ctx, t, "flow", e.args(names["P"], map[string]any{"flow": tree.node(names)}))
	p.waitType("flow", 20*time.Second)
	p.collect(10 * time.Second)
	// c1 and g1 complete (processed children); g2 stays pending.
	w, r := e.goWorker(names["C"], nil, nil)
	r.waitFinals(t, 2, 30*time.Second)
	closeWorker(t, w)

	for _, depth := range []int{10, 2} {
		want := e.nodeGetFlow(names["P"], "root", depth)
		n, err := queue.GetFlow(e.ctx, e.c, queue.FlowOpts{ID: "root", QueueName: names["P"], Prefix: e.prefix, Depth: depth})
		if err != nil {
			t.Fatal(err)
		}
		if got := goTree(n); !reflect.DeepEqual(got, want) {
			t.Fatalf("depth %d: Go GetFlow\n%s\nNode getFlow\n%s", depth, mustJSON(t, got), mustJSON(t, want))
		}
		if depth == 10 && (len(want.Children) != 2 || len(want.Children[1].Children) != 2) {
			t.Fatalf("Node tree %s", mustJSON(t, want))
		}
	}
	if _, err := queue.GetFlow(e.ctx, e.c, queue.FlowOpts{ID: "nope", QueueName: names["P"]}); !errors.Is(err, queue.ErrJobNotFound) {
		t.Fatalf("missing root: %v", err)
	}

	goNames := map[string]string{"P": e.queueName("gp"), "C": e.queueName("gc"), "G": e.queueName("gg")}
	gn := e.goFlow(tree.goJob(t, goNames))
	read, err := queue.GetFlow(e.ctx, e.c, queue.FlowOpts{ID: gn.Job.ID, QueueName: goNames["P"]})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(goTree(read), goTree(gn)) {
		t.Fatalf("GetFlow of a Go flow %s, Add returned %s", mustJSON(t, goTree(read)), mustJSON(t, goTree(gn)))
	}
}
