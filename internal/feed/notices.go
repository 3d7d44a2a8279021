package feed

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/bus"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
)

// subject carries every feed notice: new events and presence changes.
// Every node with streams listens to all of them; the body names the home,
// and each stream decides for itself.
const subject = "feed"

// publishTimeout bounds publishing one notice.
const publishTimeout = 2 * time.Second

// presenceChunk is how many presence changes one notice carries at most,
// so a fleet reconnecting at once stays within the bus's message size.
const presenceChunk = 256

// Bus is what the service needs of the bus.
type Bus interface {
	Publish(ctx context.Context, s bus.Subject, data []byte) error
	Subscribe(ctx context.Context, s bus.Subject, h bus.Handler) (bus.Subscription, error)
}

type notice struct {
	Event    *eventNotice     `json:"event,omitempty"`
	Presence []presenceNotice `json:"presence,omitempty"`
}

type eventNotice struct {
	HomeID  string `json:"home_id"`
	EventID string `json:"event_id"`
}

type presenceNotice struct {
	HomeID   string    `json:"home_id"`
	DeviceID string    `json:"device_id"`
	Online   bool      `json:"online"`
	LastSeen time.Time `json:"last_seen"`
}

// valid drops what is malformed; what is left names only well-formed IDs.
func (n *notice) valid() bool {
	if n.Event != nil && (!id.Valid(n.Event.HomeID) || !id.Valid(n.Event.EventID)) {
		n.Event = nil
	}
	kept := n.Presence[:0]
	for _, p := range n.Presence {
		if id.Valid(p.HomeID) && id.Valid(p.DeviceID) {
			kept = append(kept, p)
		}
	}
	n.Presence = kept
	return n.Event != nil || len(n.Presence) > 0
}

func (s *Service) publish(ctx context.Context, n notice) {
	subj, err := bus.NewSubject(subject)
	if err == nil {
		var b []byte
		if b, err = json.Marshal(n); err == nil {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
			defer cancel()
			err = s.d.Bus.Publish(ctx, subj, b)
		}
	}
	if err != nil && !errors.Is(err, bus.ErrClosed) {
		s.d.Log.Warn("feed: publishing a notice (open streams miss it)", "err", err)
	}
}

// EventCreated tells every node's streams of a new event. It does not
// wait for anyone: the bus buffers the notice.
func (s *Service) EventCreated(ctx context.Context, homeID, eventID string) {
	s.publish(ctx, notice{Event: &eventNotice{HomeID: homeID, EventID: eventID}})
}

// PresenceChanged tells every node's streams of cameras that went online
// or offline on this node (the server tells it only of changes).
func (s *Service) PresenceChanged(ctx context.Context, changed []domain.Presence) {
	notices := make([]presenceNotice, 0, len(changed))
	for _, u := range changed {
		if u.HomeID != "" {
			notices = append(notices, presenceNotice{HomeID: u.HomeID, DeviceID: u.DeviceID, Online: u.Online, LastSeen: u.LastSeen})
		}
	}
	for len(notices) > 0 {
		n := min(len(notices), presenceChunk)
		s.publish(ctx, notice{Presence: notices[:n]})
		notices = notices[n:]
	}
}

// listen subscribes to feed notices, queued for fanOut, and to grant
// notices, which make Run re-decide the streams.
func (s *Service) listen(ctx context.Context) ([]bus.Subscription, error) {
	subj, err := bus.NewSubject(subject)
	if err != nil {
		return nil, err
	}
	feed, err := s.d.Bus.Subscribe(ctx, subj, func(_ context.Context, data []byte) {
		var n notice
		if json.Unmarshal(data, &n) != nil || !n.valid() {
			return
		}
		s.enqueue(n)
	})
	if err != nil {
		return nil, err
	}
	grants, err := authz.ListenGrantNotices(ctx, s.d.Bus, func(_ context.Context, n authz.GrantNotice) {
		if n.AccountID != "" && n.HomeID != "" {
			s.homesChanged(n.AccountID, n.HomeID)
		}
		select {
		case s.kick <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return []bus.Subscription{feed}, err
	}
	return []bus.Subscription{feed, grants}, nil
}

// enqueue queues n for fanOut unless no stream is open here or the queue
// is full; a dropped notice costs viewers a message, which they recover by
// listing the timeline.
func (s *Service) enqueue(n notice) {
	s.mu.Lock()
	idle := len(s.streams) == 0
	s.mu.Unlock()
	if idle {
		return
	}
	select {
	case s.work <- n:
		return
	default:
	}
	s.mu.Lock()
	s.dropped++
	warn := time.Since(s.warned) > time.Minute
	if warn {
		s.warned = time.Now()
	}
	dropped := s.dropped
	if warn {
		s.dropped = 0
	}
	s.mu.Unlock()
	if warn {
		s.d.Log.Warn("feed: notices dropped, the fan-out is behind", "dropped", dropped)
	}
}
