package audit_test

import (
	"testing"

	"github.com/camvault/camvault/internal/audit"
)

// BenchmarkRecord appends to one home's chain from 8 goroutines per CPU,
// as a burst of views of one home does: the tip read, the entry and the
// head, on the embedded SQLite store.
//
//	go test -run - -bench Record ./internal/audit/
func BenchmarkRecord(b *testing.B) {
	c := newChains(b)
	h := c.home("bench", 1)
	e := audit.Entry{ActorKind: "person", ActorID: "acc", Action: audit.ViewThumbnail, EventID: "e", Result: audit.ResultOK}
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := c.log.Record(b.Context(), h, e); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
