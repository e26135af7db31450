package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// MaxFlowNodes bounds the jobs of one FlowProducer call (all trees of an
// AddBulk together): the whole flow is one script call.
const MaxFlowNodes = 10000

// FlowJob is one node of a flow: a job, and the jobs it waits for. A node
// with Children is stored in its queue's waiting-children state and becomes
// ready when every child has finished (or as its children's failure
// policies say). Field names follow BullMQ's FlowJob.
type FlowJob struct {
	// Name of the job. Required.
	Name string
	// QueueName is the queue the job goes to. Required.
	QueueName string
	// Data is the payload, encoded as Queue.Add does (nil is {}).
	Data any
	// Opts are the job's options; nil means all defaults.
	Opts *FlowJobOptions
	// Children are added with this job as their parent.
	Children []FlowJob
	// Prefix of the node's queue; defaults to the FlowProducer's prefix.
	Prefix string
}

// FlowJobOptions are a flow node's options: the options of Queue.Add plus
// what only a child has (its failure policy towards its parent) and, on a
// root, an existing parent to attach the whole tree to.
type FlowJobOptions struct {
	AddOptions
	// FailParentOnFailure (fpof): when this child fails, the parent leaves
	// waiting-children at once and fails on its next fetch.
	FailParentOnFailure bool
	// ContinueParentOnFailure (cpof): when this child fails, the parent is
	// released at once (its other children go on) and can read the failure
	// in its `:failed` hash.
	ContinueParentOnFailure bool
	// IgnoreDependencyOnFailure (idof): a failure of this child is recorded
	// in the parent's `:failed` hash and counts as done.
	IgnoreDependencyOnFailure bool
	// RemoveDependencyOnFailure (rdof): a failure of this child removes it
	// from the parent's dependencies and counts as done.
	RemoveDependencyOnFailure bool
	// Parent attaches a root to an existing job ({ID, Queue: "prefix:queue"}),
	// which must be waiting for children. Only on a root: children get
	// their parent from the tree.
	Parent *ParentRef
}

// JobNode is a stored flow node: its job and its children's nodes.
type JobNode struct {
	Job *Job
	// Queue is the job's queue as "prefix:name" (Node's queueQualifiedName).
	Queue    string
	Children []*JobNode
}

// FlowProducerOptions configure a FlowProducer. A nil value means defaults.
type FlowProducerOptions struct {
	// Prefix of the queues the nodes go to, unless a node sets its own.
	// Defaults to "bull".
	Prefix string
	// MaxDataSize bounds each node's data JSON, in bytes. Defaults to
	// DefaultMaxDataSize.
	MaxDataSize int
	// Logger and Now as in QueueOptions.
	Logger *slog.Logger
	Now    func() time.Time
}

// FlowProducer adds flows: trees of jobs across queues, where a parent runs
// once its children are done. It writes what Node BullMQ's FlowProducer
// writes, so Node and Go workers run the jobs alike. Safe for concurrent
// use; it does not own the client.
type FlowProducer struct {
	c    redis.UniversalClient
	opts QueueOptions
}

// NewFlowProducer returns a FlowProducer on the client c.
func NewFlowProducer(c redis.UniversalClient, opts *FlowProducerOptions) (*FlowProducer, error) {
	if c == nil {
		return nil, errors.New("queue: nil redis client")
	}
	var qo QueueOptions
	if opts != nil {
		qo = QueueOptions{Prefix: opts.Prefix, MaxDataSize: opts.MaxDataSize, Logger: opts.Logger, Now: opts.Now}
	}
	if qo.MaxDataSize < 0 {
		return nil, optErr("MaxDataSize", "must not be negative")
	}
	return &FlowProducer{c: c, opts: qo.withDefaults()}, nil
}

var scriptAddFlow = newScript("addFlow")

// Add stores one flow atomically: every job of the tree, or none. Parents
// go to waiting-children with their children's keys in `:dependencies`;
// children carry `parentKey` and `parent`. A node without Opts.JobID gets a
// random UUID id, as in Node. A custom id that already exists is not
// stored again: the existing job is attached to its new parent (an
// existing completed child counts as done), as BullMQ does.
//
// It fails, writing nothing, when the tree is invalid (names, options, a
// node twice, more than MaxFlowNodes), when Opts.Parent names a missing job
// (ErrParentMissing), or when an existing custom-id child already has
// another live parent (ErrParentNotReplaced). On Redis Cluster every queue
// of the flow must share one hash tag.
func (f *FlowProducer) Add(ctx context.Context, flow FlowJob) (*JobNode, error) {
	nodes, err := f.AddBulk(ctx, []FlowJob{flow})
	if err != nil {
		return nil, err
	}
	return nodes[0], nil
}

// AddBulk stores several flows in one atomic call: all of them or none
// (BullMQ's addBulk is one MULTI too).
func (f *FlowProducer) AddBulk(ctx context.Context, flows []FlowJob) ([]*JobNode, error) {
	if len(flows) == 0 {
		return nil, nil
	}
	b := flowBuilder{f: f, now: f.opts.Now(), seen: map[string]bool{}}
	roots := make([]*JobNode, len(flows))
	for i := range flows {
		n, err := b.add(&flows[i], nil, fmt.Sprintf("flow %d", i))
		if err != nil {
			return nil, err
		}
		roots[i] = n
	}
	if err := f.checkSlots(b.slotKeys); err != nil {
		return nil, err
	}
	args := append([]any{b.now.UnixMilli(), len(b.nodes)}, b.args...)
	res, err := scriptAddFlow.run(ctx, f.c, "", []string{b.slotKeys[0]}, args...)
	if err != nil {
		return nil, err
	}
	arr, ok := res.([]any)
	if !ok || len(arr) != 2 {
		return nil, fmt.Errorf("queue: addFlow: unexpected reply %T", res)
	}
	if code, _ := arr[0].(int64); code < 0 {
		id, _ := arr[1].(string)
		return nil, codeError("addFlow", id, code)
	}
	return roots, nil
}

// flowBuilder validates a tree and lays out the script's arguments, parents
// before their children.
type flowBuilder struct {
	f        *FlowProducer
	now      time.Time
	nodes    []*Job
	args     []any
	seen     map[string]bool // job keys in this call
	slotKeys []string        // meta keys of every queue, and outside parents
}

// parentLink is what a child needs from its parent.
type parentLink struct {
	queueKey string // "P:N"
	id       string
}

func (b *flowBuilder) add(n *FlowJob, parent *parentLink, path string) (*JobNode, error) {
	if len(b.nodes) >= MaxFlowNodes {
		return nil, optErr("flow", "more than %d jobs in one call", MaxFlowNodes)
	}
	if n.Name == "" {
		return nil, optErr(path+".Name", "must be set")
	}
	path = fmt.Sprintf("%s (%q)", path, n.Name)
	prefix := n.Prefix
	if prefix == "" {
		prefix = b.f.opts.Prefix
	}
	if err := validateNames(prefix, n.QueueName); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var fo FlowJobOptions
	if n.Opts != nil {
		fo = *n.Opts
	}
	if err := fo.check(parent != nil); err != nil {
		return nil, fmt.Errorf("queue: flow job %s: %w", path, err)
	}
	if fo.Parent != nil {
		if err := fo.Parent.check(); err != nil {
			return nil, fmt.Errorf("queue: flow job %s: %w", path, err)
		}
		parent = &parentLink{queueKey: fo.Parent.Queue, id: fo.Parent.ID}
		b.slotKeys = append(b.slotKeys, parent.queueKey+":"+parent.id)
	}
	q := queueOf(b.f.c, prefix, n.QueueName, b.f.opts)
	p, err := q.prepare(n.Name, n.Data, &fo.AddOptions)
	if err != nil {
		return nil, fmt.Errorf("queue: flow job %s: %w", path, err)
	}
	j := p.job
	if j.ID == "" {
		j.ID = uuid.NewString()
	}
	key := q.k.job(j.ID)
	if b.seen[key] {
		return nil, optErr(path+".Opts.JobID", "job %s appears twice in the flow", key)
	}
	b.seen[key] = true
	b.slotKeys = append(b.slotKeys, q.k.meta())

	jo := &j.Opts
	jo.FailParentOnFailure = fo.FailParentOnFailure
	jo.ContinueParentOnFailure = fo.ContinueParentOnFailure
	jo.IgnoreDependencyOnFailure = fo.IgnoreDependencyOnFailure
	jo.RemoveDependencyOnFailure = fo.RemoveDependencyOnFailure
	pq, pid, parentJSON := "", "", ""
	if parent != nil {
		pq, pid = parent.queueKey, parent.id
		jo.Parent = &ParentRef{ID: parent.id, Queue: parent.queueKey}
		j.ParentKey = pq + ":" + pid
		pj, err := marshalJSON(parentField{ID: pid, QueueKey: pq, FPOF: fo.FailParentOnFailure,
			RDOF: fo.RemoveDependencyOnFailure, IDOF: fo.IgnoreDependencyOnFailure, CPOF: fo.ContinueParentOnFailure})
		if err != nil {
			return nil, err
		}
		parentJSON = string(pj)
		j.Parent = pj
	}
	optsJSON, err := jo.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("queue: flow job %s: encoding options: %w", path, err)
	}
	j.RawOpts = optsJSON
	b.nodes = append(b.nodes, j)
	b.args = append(b.args, q.k.base, j.ID, j.Name, j.Timestamp, string(j.Data), string(optsJSON), j.Delay,
		j.Priority, boolArg(jo.LIFO), pq, pid, parentJSON, boolArg(len(n.Children) > 0))

	out := &JobNode{Job: j, Queue: prefix + ":" + n.QueueName}
	me := &parentLink{queueKey: out.Queue, id: j.ID}
	for i := range n.Children {
		c, err := b.add(&n.Children[i], me, fmt.Sprintf("%s.Children[%d]", path, i))
		if err != nil {
			return nil, err
		}
		out.Children = append(out.Children, c)
	}
	return out, nil
}

// queueOf is a Queue for a flow node's queue, its names already checked
// (NewQueue would also apply the per-queue Cluster check, which a flow
// replaces with checkSlots).
func queueOf(c redis.UniversalClient, prefix, name string, o QueueOptions) *Queue {
	o.Prefix = prefix
	return &Queue{c: c, name: name, k: newKeys(prefix, name), opts: o, log: o.Logger}
}

// parentField is a child's `parent` hash field, as Node writes it.
type parentField struct {
	ID       string `json:"id"`
	QueueKey string `json:"queueKey"`
	FPOF     bool   `json:"fpof,omitempty"`
	RDOF     bool   `json:"rdof,omitempty"`
	IDOF     bool   `json:"idof,omitempty"`
	CPOF     bool   `json:"cpof,omitempty"`
}

// check applies Node's flow rules to one node's options.
func (o *FlowJobOptions) check(hasParent bool) error {
	n := 0
	for _, on := range []bool{o.FailParentOnFailure, o.ContinueParentOnFailure, o.IgnoreDependencyOnFailure,
		o.RemoveDependencyOnFailure} {
		if on {
			n++
		}
	}
	if n > 1 {
		return optErr("FailParentOnFailure", "at most one of FailParentOnFailure, ContinueParentOnFailure, IgnoreDependencyOnFailure and RemoveDependencyOnFailure may be set")
	}
	if o.Parent != nil && hasParent {
		return optErr("Parent", "only a root of the flow may name an existing parent; children get theirs from the tree")
	}
	if o.Deduplication != nil {
		// Node refuses deduplication on a node with children or a parent;
		// a lone job with deduplication is Queue.Add's business.
		return optErr("Deduplication", "not supported in flows (Node refuses it on nodes with a parent or children); use Queue.Add for a single job")
	}
	return nil
}

func (p *ParentRef) check() error {
	if p.ID == "" || p.Queue == "" {
		return optErr("Parent", "needs ID and Queue (\"prefix:queue\")")
	}
	return nil
}

// checkSlots refuses, on a cluster client, a flow whose keys would not all
// hash to one slot: the flow is one script call.
func (f *FlowProducer) checkSlots(keys []string) error {
	if _, ok := f.c.(*redis.ClusterClient); !ok {
		return nil
	}
	first, ok := hashTag(keys[0])
	for _, k := range keys {
		tag, has := hashTag(k)
		if !ok || !has || tag != first {
			return fmt.Errorf("%w: every queue of a flow (and an outside parent) must share one hash tag, such as a prefix \"{flows}\"; %q and %q do not",
				ErrNoHashTag, keys[0], k)
		}
	}
	return nil
}
