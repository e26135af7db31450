package clustertest

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/internal/redistest"
	"github.com/zyeute/zyeute-redis/queue"
)

// TestListQueuesEveryMaster: queue discovery SCANs every master, so queues
// whose hash tags put them on different masters are all listed.
func TestListQueuesEveryMaster(t *testing.T) {
	c := redistest.StartCluster(t, &redistest.ClusterOptions{Masters: 3, NoReplicas: true})
	rdb := c.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var want []string
	masters := map[string]bool{}
	for i := 0; i < 12; i++ {
		name := fmt.Sprintf("{q%d}", i)
		q, err := queue.NewQueue(rdb, name, &queue.QueueOptions{Prefix: "disc"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := q.Add(ctx, "x", nil, nil); err != nil {
			t.Fatal(err)
		}
		slot, err := c.KeySlot(ctx, "disc:"+name+":meta")
		if err != nil {
			t.Fatal(err)
		}
		m, err := c.MasterOf(ctx, slot)
		if err != nil {
			t.Fatal(err)
		}
		masters[m.Addr()] = true
		want = append(want, name)
	}
	if len(masters) < 2 {
		t.Fatalf("the 12 queues landed on %d master(s); the test needs them spread", len(masters))
	}
	sort.Strings(want)
	got, err := queue.ListQueues(ctx, rdb, "disc")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ListQueues = %q, want %q", got, want)
	}
}
