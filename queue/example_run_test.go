package queue_test

import (
	"bytes"
	"io"
	"os"
	"testing"

	"github.com/zyeute/zyeute-redis/internal/redistest"
)

// TestExamples runs the examples that finish on their own against a test
// Redis and checks what they print.
func TestExamples(t *testing.T) {
	srv := redistest.Start(t, nil)
	redisAddr = srv.Addr()
	for _, ex := range []struct {
		name string
		run  func()
		want string
	}{
		{"Queue_Add", ExampleQueue_Add, "added job 1\n"},
		{"QueueEvents", ExampleQueueEvents, "added true\nwaiting true\n"},
		{"Job_WaitUntilFinished", ExampleJob_WaitUntilFinished, `{"path":"/t/1.jpg"}` + "\n"},
	} {
		t.Run(ex.name, func(t *testing.T) {
			if got := capture(t, ex.run); got != ex.want {
				t.Fatalf("printed %q, want %q", got, ex.want)
			}
		})
	}
}

func capture(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		var b bytes.Buffer
		_, _ = io.Copy(&b, r)
		done <- b.String()
	}()
	defer func() { os.Stdout = old }()
	f()
	w.Close()
	os.Stdout = old
	return <-done
}
