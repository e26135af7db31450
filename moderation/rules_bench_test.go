package moderation

import (
	"context"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time (user + system) used by this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds "cpu-ns/op": CPU time per operation, which unlike ns/op
// does not grow when other processes compete for the cores.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

// benchText builds a deterministic comment-like text of about n bytes from
// everyday French, Québec French and English words, with a few sacres and
// insults scattered in (the kind of text that makes every rule work).
func benchText(n int) string {
	vocab := strings.Fields(`le la les un une des de du et est pas que qui dans pour sur avec je tu il
		elle on nous vous ils c'est j'ai t'es ben là ça mon ton son beau belle journée poutine hockey
		match soir hier demain école travail char maison chalet ski neige été lac the a an and is are
		you i we it this that great video thanks love game goal amazing really very good nice
		tabarnak ostie câlisse crisse maudit cave niaiseux épais fuck shit damn wow lol merci bravo
		https://zyeute.example/v/123 www.example.com 14 ans 2024 !!! ??? ... :) 😂 é à ç œ`)
	r := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(vocab[r.IntN(len(vocab))])
		if r.IntN(12) == 0 {
			b.WriteString(". ")
		} else {
			b.WriteByte(' ')
		}
	}
	return b.String()[:n]
}

// BenchmarkRules measures the rules provider alone (no cache, no Redis) on a
// typical short comment and on a 750 KB text, the case of issue 10 item 7.
//
//	go test -run '^$' -bench BenchmarkRules -benchmem ./moderation/
func BenchmarkRules(b *testing.B) {
	m, err := NewRulesModerator(nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		text string
	}{
		{"short", "T'es un ostie de cave, mange d'la marde! Bravo pour le match hier soir."},
		{"750KB", benchText(750_000)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(tc.text)))
			b.ReportAllocs()
			start := cpuTime()
			for b.Loop() {
				if _, err := m.Moderate(ctx, Content{Text: tc.text}); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, start)
		})
	}
}
