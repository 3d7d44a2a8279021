package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/feed"
)

// Feed opens streams of new events; *feed.Service is one.
type Feed interface {
	Open(ctx context.Context, p authz.Principal, q feed.Query) (*feed.Stream, error)
}

// streamPing is how often an idle stream sends a comment, so proxies and
// the write deadline see it alive and a vanished client is noticed.
const streamPing = 20 * time.Second

// eventStream is GET /api/v1/events/stream: Server-Sent Events, one
// "event" message per new event the caller may see (filtered like the
// timeline by home, device and kind), one "device" message per camera
// going online or offline, and a last "end" message saying why when the
// server ends it (the caller lost access, logged out, fell behind).
func (s *Server) eventStream(w http.ResponseWriter, r *http.Request) error {
	if s.feed == nil {
		return apperr.New(apperr.NotFound, "no such route")
	}
	q := r.URL.Query()
	st, err := s.feed.Open(r.Context(), principal(r.Context()), feed.Query{Home: q.Get("home"), Device: q.Get("device"), Kinds: q["kind"]})
	if err != nil {
		return err
	}
	defer st.Close()
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx in front: pass each message at once
	w.WriteHeader(http.StatusOK)
	// retry: how long a browser waits before reconnecting after an end.
	if _, err := fmt.Fprint(w, "retry: 3000\n\n"); err != nil {
		return nil
	}
	if err := rc.Flush(); err != nil {
		return nil
	}
	ping := time.NewTicker(streamPing)
	defer ping.Stop()
	for {
		var err error
		select {
		case <-r.Context().Done():
			return nil
		case m := <-st.Messages():
			err = writeMessage(w, m)
		case <-st.Done():
			// Messages sent before the end go first.
			for len(st.Messages()) > 0 {
				if err := writeMessage(w, <-st.Messages()); err != nil {
					return nil
				}
			}
			b, _ := json.Marshal(map[string]string{"reason": string(st.Err())})
			if _, err := fmt.Fprintf(w, "event: end\ndata: %s\n\n", b); err == nil {
				_ = rc.Flush()
			}
			return nil
		case <-ping.C:
			_, err = fmt.Fprint(w, ": ping\n\n")
		}
		if err == nil {
			err = rc.Flush()
		}
		if err != nil {
			return nil // the client went away
		}
	}
}

func writeMessage(w http.ResponseWriter, m feed.Message) error {
	b, err := json.Marshal(m.Data)
	if err != nil {
		return fmt.Errorf("encode %s message: %w", m.Kind, err)
	}
	if m.ID != "" {
		_, err = fmt.Fprintf(w, "event: %s\nid: %s\ndata: %s\n\n", m.Kind, m.ID, b)
	} else {
		_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", m.Kind, b)
	}
	return err
}
