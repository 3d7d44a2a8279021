package events

import (
	"os"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/apperr"
)

// TestThumbnailChecksBounded: thumbnail checks run in a pool of slots;
// with every slot taken, an upload waits CheckWait and is answered 503
// instead of adding a decode; once a slot is free, checks run again.
func TestThumbnailChecksBounded(t *testing.T) {
	s := &Service{cfg: Config{CheckWait: 50 * time.Millisecond}, checks: make(chan struct{}, 2)}
	jpg, err := os.ReadFile("../../docs/samples/snapshot.jpg")
	if err != nil {
		t.Fatal(err)
	}
	s.checks <- struct{}{}
	s.checks <- struct{}{} // two checks in progress elsewhere
	if err := s.checkJPEG(t.Context(), jpg); apperr.CodeOf(err) != apperr.Unavailable {
		t.Fatalf("a check with every slot taken: %v; want unavailable", err)
	}
	<-s.checks
	if err := s.checkJPEG(t.Context(), jpg); err != nil {
		t.Fatalf("a check with a slot free: %v", err)
	}
	if len(s.checks) != 1 {
		t.Fatalf("%d slots taken after the check, want the one still held", len(s.checks))
	}
}
