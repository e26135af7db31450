package queue

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// DependencyPage asks for one page of one kind of flow children.
type DependencyPage struct {
	// Cursor is where to continue: 0 to start, then the Next…Cursor of
	// the previous answer.
	Cursor uint64
	// Count is a hint of how many entries to return (Redis SCAN COUNT for
	// processed, pending and ignored; the exact page size for failed).
	// Defaults to 20.
	Count int64
}

// DependenciesOptions select which kinds of children GetDependencies pages
// through, as Node's job.getDependencies({processed, unprocessed, ignored,
// failed}). A nil *DependenciesOptions (or one with every field nil)
// returns every kind in full, without cursors.
type DependenciesOptions struct {
	Processed   *DependencyPage
	Unprocessed *DependencyPage
	Ignored     *DependencyPage
	Failed      *DependencyPage
}

// Dependencies are a flow parent's children by outcome, keyed by their
// full job keys ("bull:q:7"). With paging options only the kinds asked
// for are filled, each with its next cursor (0: no more; Failed's cursor is
// Cursor+Count as Node computes it).
type Dependencies struct {
	// Processed: completed children and their return values (JSON; a
	// value that is not JSON is given as a JSON string of its text).
	Processed map[string]json.RawMessage `json:"processed,omitempty"`
	// Unprocessed: children not finished yet (pending dependencies).
	Unprocessed []string `json:"unprocessed,omitempty"`
	// Ignored: failed children whose failure was ignored or continued
	// past (ignoreDependencyOnFailure, continueParentOnFailure), with the
	// failure reason.
	Ignored map[string]string `json:"ignored,omitempty"`
	// Failed: children whose failure failed the parent
	// (failParentOnFailure).
	Failed []string `json:"failed,omitempty"`

	NextProcessedCursor   uint64 `json:"nextProcessedCursor,omitempty"`
	NextUnprocessedCursor uint64 `json:"nextUnprocessedCursor,omitempty"`
	NextIgnoredCursor     uint64 `json:"nextIgnoredCursor,omitempty"`
	NextFailedCursor      uint64 `json:"nextFailedCursor,omitempty"`
}

func pageOf(p *DependencyPage) (uint64, int64) {
	if p.Count <= 0 {
		return p.Cursor, 20
	}
	return p.Cursor, p.Count
}

// jsonOrString returns v when it is JSON, else v as a JSON string.
func jsonOrString(v string) json.RawMessage {
	if json.Valid([]byte(v)) {
		return json.RawMessage(v)
	}
	b, _ := json.Marshal(v)
	return b
}

func processedMap(h map[string]string) map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(h))
	for k, v := range h {
		out[k] = jsonOrString(v)
	}
	return out
}

// GetDependencies reads the job's flow children in one round trip, as
// Node's job.getDependencies(opts): the `:processed` hash (completed
// children), the `:dependencies` set (pending), the `:failed` hash
// (ignored failures) and the `:unsuccessful` zset (failures that failed
// the parent). A job that is not a parent gives empty results.
func (j *Job) GetDependencies(ctx context.Context, opts *DependenciesOptions) (Dependencies, error) {
	var d Dependencies
	if err := j.bound(); err != nil {
		return d, err
	}
	key := j.q.k.job(j.ID)
	var o DependenciesOptions
	if opts != nil {
		o = *opts
	}
	all := o.Processed == nil && o.Unprocessed == nil && o.Ignored == nil && o.Failed == nil
	pipe := j.q.c.Pipeline()
	var (
		hProc, hIgn              *redis.MapStringStringCmd
		sDeps, zFail             *redis.StringSliceCmd
		scProc, scDeps, scIgn    *redis.ScanCmd
		failedStart, failedCount int64
	)
	if all {
		hProc = pipe.HGetAll(ctx, key+":processed")
		sDeps = pipe.SMembers(ctx, key+":dependencies")
		hIgn = pipe.HGetAll(ctx, key+":failed")
		zFail = pipe.ZRange(ctx, key+":unsuccessful", 0, -1)
	} else {
		if o.Processed != nil {
			c, n := pageOf(o.Processed)
			scProc = pipe.HScan(ctx, key+":processed", c, "", n)
		}
		if o.Unprocessed != nil {
			c, n := pageOf(o.Unprocessed)
			scDeps = pipe.SScan(ctx, key+":dependencies", c, "", n)
		}
		if o.Ignored != nil {
			c, n := pageOf(o.Ignored)
			scIgn = pipe.HScan(ctx, key+":failed", c, "", n)
		}
		if o.Failed != nil {
			c, n := pageOf(o.Failed)
			failedStart, failedCount = int64(c), n
			zFail = pipe.ZRange(ctx, key+":unsuccessful", failedStart, failedStart+n-1)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return d, fmt.Errorf("queue: dependencies of job %s: %w", j.ID, err)
	}
	if all {
		d.Processed = processedMap(hProc.Val())
		d.Unprocessed = sDeps.Val()
		d.Ignored = hIgn.Val()
		d.Failed = zFail.Val()
		return d, nil
	}
	pairs := func(kv []string) map[string]string {
		m := make(map[string]string, len(kv)/2)
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	if scProc != nil {
		kv, cur := scProc.Val()
		d.Processed, d.NextProcessedCursor = processedMap(pairs(kv)), cur
	}
	if scDeps != nil {
		d.Unprocessed, d.NextUnprocessedCursor = scDeps.Val()
		if d.Unprocessed == nil {
			d.Unprocessed = []string{}
		}
	}
	if scIgn != nil {
		kv, cur := scIgn.Val()
		d.Ignored, d.NextIgnoredCursor = pairs(kv), cur
	}
	if zFail != nil {
		d.Failed, d.NextFailedCursor = zFail.Val(), uint64(failedStart+failedCount)
	}
	return d, nil
}
