package queue

import "testing"

// RemoveJobEvents deletes exactly the events stream entries of the given
// job ids, pages past 500 entries, and stops at maxScan.
func TestRemoveJobEvents(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i := 0; i < 300; i++ { // "added" and "waiting" per job: 600 entries
		if _, err := b.q.Add(b.ctx, "a", nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	count := func(id string) int {
		msgs, err := b.client.XRange(b.ctx, b.q.k.events(), "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, m := range msgs {
			if m.Values["jobId"] == id {
				n++
			}
		}
		return n
	}
	before := count("300")
	if before == 0 || count("2") == 0 {
		t.Fatal("no events to remove")
	}
	// A bound that stops before job 300's entries removes only job 2's.
	n, err := b.q.RemoveJobEvents(b.ctx, []string{"2", "300"}, 100)
	if err != nil || n != 2 || count("2") != 0 || count("300") != before {
		t.Fatalf("bounded: removed %d (%v); left job 2: %d, job 300: %d", n, err, count("2"), count("300"))
	}
	n, err = b.q.RemoveJobEvents(b.ctx, []string{"300", "1"}, 0)
	if err != nil || int(n) != before+2 || count("300") != 0 || count("1") != 0 || count("3") == 0 {
		t.Fatalf("removed %d (%v)", n, err)
	}
	if n, err := b.q.RemoveJobEvents(b.ctx, []string{"300"}, 0); err != nil || n != 0 {
		t.Fatalf("again: removed %d (%v)", n, err)
	}
}
