package server

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/camvault/camvault/internal/breaker"
)

// BreakerStatus writes the cache breaker's state.
func (o *Offline) BreakerStatus(ctx context.Context, w io.Writer) error {
	b, err := breaker.Status(ctx, o.Store)
	if err != nil {
		return err
	}
	state := "closed: the cache is in the media and authorization paths"
	if b.Open {
		state = "OPEN: the cache is bypassed on every node"
	}
	fmt.Fprintf(w, "cache breaker %s\n", state)
	if !b.ChangedAt.IsZero() {
		fmt.Fprintf(w, "since %s: %s\n", b.ChangedAt.UTC().Format(time.RFC3339), b.Reason)
	}
	fmt.Fprintf(w, "trips so far: %d\n", b.Trips)
	return nil
}

// BreakerReset closes the cache breaker; every node follows within a
// second. who is recorded as the reason.
func (o *Offline) BreakerReset(ctx context.Context, w io.Writer, who string) error {
	changed, err := breaker.Reset(ctx, o.Store, who, time.Now())
	if err != nil {
		return err
	}
	if !changed {
		fmt.Fprintln(w, "cache breaker was already closed")
		return nil
	}
	fmt.Fprintln(w, "cache breaker reset: every node puts the cache back in its paths within a second")
	return nil
}
