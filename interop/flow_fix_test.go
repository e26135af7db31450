package interop

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// Issue 9 items 1–3 and the fractional retention age, live: the same Node
// flow is run once by a Node worker and once by a Go worker (fresh queues
// each), and what the finished children leave on the parent is compared.

// flowFixCase is one flow: a parent (with opts) on its own queue and
// children on a child queue; idle children go to a queue nobody works on
// (a sibling that stays pending).
type flowFixCase struct {
	name       string
	parentOpts map[string]any
	children   []flowFixChild
	// extra plain jobs added to the child queue after the flow (run after
	// the children, FIFO)
	extra []nodeJobSpec
	// seed runs after the flow is added, before any worker (parent queue,
	// parent id, child keys)
	seed func(e *env, pq, parent string, kids []string)
	// want checks the Go outcome on top of the Node comparison
	want func(t *testing.T, o flowFixOutcome)
}

type flowFixChild struct {
	spec nodeJobSpec
	idle bool
}

// flowFixOutcome is what the children left on the parent, with queue names
// and ids replaced so the Node and Go runs compare.
type flowFixOutcome struct {
	Where    []string // parent queue structures holding the parent
	Events   []string // parent stream after the flow was added: event[/prev]
	Deps     []string // remaining dependencies, as child indexes
	Keys     []string // which of the parent's keys exist
	Defa     string   // parent defa, child keys as c<i>
	Delay    string   // parent delay field
	Children []string // child hashes still present, as indexes
}

func (e *env) nodeFlowOpts(parentQ string, parentOpts map[string]any, childQ, idleQ string, children []flowFixChild) (string, []string) {
	e.t.Helper()
	var kids []any
	for _, c := range children {
		q := childQ
		if c.idle {
			q = idleQ
		}
		k := map[string]any{"name": c.spec.Name, "queueName": q, "data": c.spec.Data}
		if c.spec.Opts != nil {
			k["opts"] = c.spec.Opts
		}
		kids = append(kids, k)
	}
	f := map[string]any{"name": "parent", "queueName": parentQ, "data": map[string]any{}, "children": kids}
	if parentOpts != nil {
		f["opts"] = parentOpts
	}
	p := startPeer(e.ctx, e.t, "flow", e.args(parentQ, map[string]any{"flow": f}))
	m := p.waitType("flow", 20*time.Second)
	p.collect(10 * time.Second)
	if len(m.Children) != len(children) {
		e.t.Fatalf("flow: %d child ids, want %d", len(m.Children), len(children))
	}
	return m.ID, m.Children
}

// runFlowFix runs tc with a Node ("node") or Go ("go") worker on the child
// queue and returns the outcome.
func runFlowFix(t *testing.T, e *env, engine string, tc flowFixCase) flowFixOutcome {
	t.Helper()
	return runFlowFixBy(t, e, "", engine, tc)
}

// runFlowFixBy is runFlowFix with the flow added by a Node FlowProducer
// (producer "") or the Go one (producer "go").
func runFlowFixBy(t *testing.T, e *env, producer, engine string, tc flowFixCase) flowFixOutcome {
	t.Helper()
	tag := producer + engine
	pq, cq, iq := e.queueName("p"+tag), e.queueName("c"+tag), e.queueName("i"+tag)
	add := e.nodeFlowOpts
	if producer == "go" {
		add = e.goFlowOpts
	}
	parent, ids := add(pq, tc.parentOpts, cq, iq, tc.children)
	kids := make([]string, len(ids))
	rename := map[string]string{}
	finals := 0
	for i, id := range ids {
		q := cq
		if tc.children[i].idle {
			q = iq
		} else {
			finals++
		}
		kids[i] = e.key(q, id)
		rename[kids[i]] = fmt.Sprintf("c%d", i)
	}
	if len(tc.extra) > 0 {
		e.nodeAdd(cq, tc.extra)
		finals += len(tc.extra)
	}
	if tc.seed != nil {
		tc.seed(e, pq, parent, kids)
	}
	last := "0"
	if xs := e.streamEntries(pq); len(xs) > 0 {
		last = xs[len(xs)-1].ID
	}
	switch engine {
	case "node":
		p := startPeer(e.ctx, t, "work", e.args(cq, map[string]any{"exitAfter": finals}))
		p.waitType("done", 30*time.Second)
	default:
		w, r := e.goWorker(cq, nil, nil)
		r.waitFinals(t, finals, 30*time.Second)
		closeWorker(t, w)
	}

	var o flowFixOutcome
	for _, z := range []string{"waiting-children", "delayed", "prioritized", "failed", "completed"} {
		if e.zscoreExists(pq, z, parent) {
			o.Where = append(o.Where, z)
		}
	}
	for _, l := range []string{"wait", "active"} {
		if e.inList(pq, l, parent) {
			o.Where = append(o.Where, l)
		}
	}
	xs, err := e.c.XRange(e.ctx, e.key(pq, "events"), "("+last, "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range xs {
		if x.Values["jobId"] != parent {
			continue
		}
		s := fmt.Sprint(x.Values["event"])
		if p, ok := x.Values["prev"]; ok {
			s += "/" + fmt.Sprint(p)
		}
		o.Events = append(o.Events, s)
	}
	pk := e.key(pq, parent)
	for _, d := range e.c.SMembers(e.ctx, pk+":dependencies").Val() {
		o.Deps = append(o.Deps, rename[d])
	}
	sort.Strings(o.Deps)
	for _, s := range []string{"", ":dependencies", ":unsuccessful", ":failed", ":processed"} {
		if e.c.Exists(e.ctx, pk+s).Val() == 1 {
			o.Keys = append(o.Keys, "parent"+s)
		}
	}
	o.Defa = e.c.HGet(e.ctx, pk, "defa").Val()
	for k, n := range rename {
		o.Defa = strings.ReplaceAll(o.Defa, k, n)
	}
	o.Delay = e.c.HGet(e.ctx, pk, "delay").Val()
	for i, k := range kids {
		if e.c.Exists(e.ctx, k).Val() == 1 {
			o.Children = append(o.Children, fmt.Sprintf("c%d", i))
		}
	}
	return o
}

// Items 1, 2, 3 (one subtest each, named after the item) against Node.
func TestIssue9Items123_FlowNodeParity(t *testing.T) {
	t.Parallel()
	fail := map[string]any{"fail": "boom"}
	cases := []flowFixCase{
		{
			// item 1: removed at once, last dependency
			name: "Item1_FailedChildRemovedReleasesParent",
			children: []flowFixChild{{spec: nodeJobSpec{Name: "bad", Data: fail,
				Opts: map[string]any{"removeOnFail": true}}}},
			want: func(t *testing.T, o flowFixOutcome) {
				if !reflect.DeepEqual(o.Where, []string{"wait"}) || !reflect.DeepEqual(o.Events, []string{"waiting/waiting-children"}) {
					t.Fatalf("parent not released: %+v", o)
				}
			},
		},
		{
			// item 1: BullMQ releases a detached parent into wait, whatever
			// its delay and priority
			name:       "Item1_RemovedChildDelayedPrioritizedParent",
			parentOpts: map[string]any{"delay": 60000, "priority": 2},
			children: []flowFixChild{{spec: nodeJobSpec{Name: "bad", Data: fail,
				Opts: map[string]any{"removeOnFail": 0}}}},
			want: func(t *testing.T, o flowFixOutcome) {
				if !reflect.DeepEqual(o.Where, []string{"wait"}) {
					t.Fatalf("parent in %v", o.Where)
				}
			},
		},
		{
			// item 1: a sibling still pending keeps the parent waiting
			name: "Item1_RemovedChildWithPendingSibling",
			children: []flowFixChild{
				{spec: nodeJobSpec{Name: "bad", Data: fail, Opts: map[string]any{"removeOnFail": true}}},
				{spec: nodeJobSpec{Name: "idle", Data: map[string]any{}}, idle: true},
			},
			want: func(t *testing.T, o flowFixOutcome) {
				if !reflect.DeepEqual(o.Deps, []string{"c1"}) || !reflect.DeepEqual(o.Where, []string{"waiting-children"}) {
					t.Fatalf("%+v", o)
				}
			},
		},
		{
			// item 1: a kept failed child trimmed by a later job's count
			name:     "Item1_FailedChildTrimmedByCount",
			children: []flowFixChild{{spec: nodeJobSpec{Name: "bad", Data: fail}}},
			extra: []nodeJobSpec{{Name: "x", Data: map[string]any{"fail": "x", "sleepMs": 30},
				Opts: map[string]any{"removeOnFail": 1}}},
			want: func(t *testing.T, o flowFixOutcome) {
				if !reflect.DeepEqual(o.Where, []string{"wait"}) || len(o.Children) != 0 {
					t.Fatalf("%+v", o)
				}
			},
		},
		{
			// item 1 + fractional age: trimmed by {age: 0.5} 700 ms later
			name:     "Item1_FailedChildTrimmedByFractionalAge",
			children: []flowFixChild{{spec: nodeJobSpec{Name: "bad", Data: fail}}},
			extra: []nodeJobSpec{{Name: "x", Data: map[string]any{"fail": "x", "sleepMs": 700},
				Opts: map[string]any{"removeOnFail": map[string]any{"age": 0.5}}}},
			want: func(t *testing.T, o flowFixOutcome) {
				if !reflect.DeepEqual(o.Where, []string{"wait"}) || len(o.Children) != 0 {
					t.Fatalf("%+v", o)
				}
			},
		},
		{
			// item 2: released into delayed with a `delayed` event only
			name:       "Item2_DelayedParentNoWaitingEvent",
			parentOpts: map[string]any{"delay": 60000},
			children:   []flowFixChild{{spec: nodeJobSpec{Name: "ok", Data: map[string]any{"return": 1}}}},
			want: func(t *testing.T, o flowFixOutcome) {
				if !reflect.DeepEqual(o.Where, []string{"delayed"}) || !reflect.DeepEqual(o.Events, []string{"delayed"}) {
					t.Fatalf("%+v", o)
				}
			},
		},
		{
			// item 3: fpof child of a parent removed meanwhile
			name: "Item3_FpofParentRemoved",
			children: []flowFixChild{{spec: nodeJobSpec{Name: "bad", Data: fail,
				Opts: map[string]any{"failParentOnFailure": true}}}},
			seed: func(e *env, pq, parent string, kids []string) {
				startPeer(e.ctx, e.t, "admin", e.args(pq, map[string]any{"ops": []any{
					map[string]any{"op": "remove", "args": []any{parent, map[string]any{"removeChildren": false}}},
				}})).waitType("done", 20*time.Second)
			},
			want: func(t *testing.T, o flowFixOutcome) {
				if len(o.Keys) != 0 || len(o.Where) != 0 {
					t.Fatalf("removed parent written to: %+v", o)
				}
			},
		},
		{
			// item 3: fpof child of a parent already failed: no defa
			name: "Item3_FpofParentAlreadyFailed",
			children: []flowFixChild{{spec: nodeJobSpec{Name: "bad", Data: fail,
				Opts: map[string]any{"failParentOnFailure": true}}}},
			seed: func(e *env, pq, parent string, kids []string) {
				now := time.Now().UnixMilli()
				e.c.ZRem(e.ctx, e.key(pq, "waiting-children"), parent)
				e.c.ZAdd(e.ctx, e.key(pq, "failed"), redisZf(float64(now), parent))
				e.c.HSet(e.ctx, e.key(pq, parent), "failedReason", "earlier", "finishedOn", now)
			},
			want: func(t *testing.T, o flowFixOutcome) {
				if o.Defa != "" || !reflect.DeepEqual(o.Where, []string{"failed"}) {
					t.Fatalf("%+v", o)
				}
			},
		},
		{
			// item 3: cpof child no longer a dependency: parent untouched
			name: "Item3_CpofNotADependency",
			children: []flowFixChild{{spec: nodeJobSpec{Name: "bad", Data: fail,
				Opts: map[string]any{"continueParentOnFailure": true}}}},
			seed: func(e *env, pq, parent string, kids []string) {
				e.c.SRem(e.ctx, e.key(pq, parent+":dependencies"), kids[0])
			},
			want: func(t *testing.T, o flowFixOutcome) {
				if !reflect.DeepEqual(o.Where, []string{"waiting-children"}) || len(o.Events) != 0 ||
					containsKey(o.Keys, "parent:failed") {
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
			node := runFlowFix(t, e, "node", tc)
			goo := runFlowFix(t, e, "go", tc)
			if !reflect.DeepEqual(node, goo) {
				t.Fatalf("outcome differs:\nnode %+v\ngo   %+v", node, goo)
			}
			tc.want(t, goo)
		})
	}
}

func containsKey(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
