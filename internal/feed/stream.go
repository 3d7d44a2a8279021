package feed

import (
	"sync"

	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/domain"
)

// The kinds of message a stream carries.
const (
	KindEvent  = "event"  // a new event the viewer may see (events.View)
	KindDevice = "device" // a camera went online or offline (DeviceState)
)

// Message is one message of a stream.
type Message struct {
	Kind string // KindEvent or KindDevice
	ID   string // the event's ID, for an event
	Data any    // the body, as JSON
}

// EndReason says why a stream ended; it is sent to the viewer.
type EndReason string

// Why streams end.
const (
	EndRevoked     EndReason = "revoked"       // the viewer lost access to a home or camera it covered
	EndLoggedOut   EndReason = "logged_out"    // the viewer's login session ended
	EndChanged     EndReason = "homes_changed" // the viewer joined a home: reconnect to cover it
	EndTooSlow     EndReason = "too_slow"      // the viewer did not keep up
	EndUnavailable EndReason = "unavailable"   // access could not be checked
	EndShutdown    EndReason = "shutting_down" // the server is stopping
	EndClosed      EndReason = "closed"        // the viewer went away
)

// Stream is one viewer's open stream.
type Stream struct {
	svc    *Service
	p      authz.Principal
	device string             // "": every camera of its homes
	kinds  []domain.EventKind // empty: every kind
	scoped bool               // filtered to a home or camera when opened
	homes  []string           // the homes it covers, fixed when opened

	// versions are the grant versions each home was last decided at; only
	// the service's Run goroutine reads or writes them once it is open.
	versions map[string]int64

	out  chan Message
	done chan struct{}
	once sync.Once
	mu   sync.Mutex
	err  EndReason
}

// Messages delivers the stream's messages in order.
func (st *Stream) Messages() <-chan Message { return st.out }

// Done is closed when the stream ended; Err says why.
func (st *Stream) Done() <-chan struct{} { return st.done }

// Err is why the stream ended, or "" while it is open.
func (st *Stream) Err() EndReason {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.err
}

// Close ends the stream (the viewer went away).
func (st *Stream) Close() { st.end(EndClosed) }

func (st *Stream) end(r EndReason) {
	st.once.Do(func() {
		st.mu.Lock()
		st.err = r
		st.mu.Unlock()
		close(st.done)
		st.svc.remove(st)
	})
}

// send offers m without waiting: a viewer that lets Config.Buffer
// messages pile up is cut off, so one slow reader never holds up the
// others (it reconnects and lists what it missed).
func (st *Stream) send(m Message) {
	select {
	case <-st.done:
	case st.out <- m:
	default:
		st.end(EndTooSlow)
	}
}
