// Package grantnotice tells every node, over the bus, that someone's grants
// changed (a member added, changed or removed, a camera unpaired, a
// logout), so that caches may drop what they hold for that person and home
// before it would expire: a stale entry is a miss on its next use anyway,
// so this frees memory sooner and decides nothing.
//
// Nothing depends on a notice arriving: every cached grant carries the
// grant version it was computed from, and that version is checked against
// the store on every request (DESIGN.md invariant 3). A lost, late or forged
// notice costs at most a cache miss.
package grantnotice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/camvault/camvault/internal/bus"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/store"
)

// subjectName is the one subject of grant notices: every node listens to
// all of them, and the body names whose grants changed.
const subjectName = "grants"

// Notice says that the grants of an account in a home changed. Either may
// be empty: an account alone after a logout (all its homes), a home alone
// after a camera was unpaired (all its members).
type Notice struct {
	HomeID    string `json:"home_id,omitempty"`
	AccountID string `json:"account_id,omitempty"`
}

// Valid reports whether n names at least one thing, each a well-formed ID.
func (n Notice) Valid() bool {
	return (n.HomeID != "" || n.AccountID != "") &&
		(n.HomeID == "" || id.Valid(n.HomeID)) && (n.AccountID == "" || id.Valid(n.AccountID))
}

// Publisher is what publishing needs of the bus.
type Publisher interface {
	Publish(ctx context.Context, s bus.Subject, data []byte) error
}

// Subscriber is what listening needs of the bus.
type Subscriber interface {
	Subscribe(ctx context.Context, s bus.Subject, h bus.Handler) (bus.Subscription, error)
}

// Publish sends n to every node. It is best effort by design.
func Publish(ctx context.Context, p Publisher, n Notice) error {
	if !n.Valid() {
		return errors.New("grant notice: names no valid home or account")
	}
	subj, err := bus.NewSubject(subjectName)
	if err != nil {
		return err
	}
	b, err := json.Marshal(n)
	if err != nil {
		return err
	}
	if err := p.Publish(ctx, subj, b); err != nil {
		return fmt.Errorf("grant notice: %w", err)
	}
	return nil
}

// Listen calls h with every well-formed notice published from now on, by
// any node (this one included), until the subscription is ended. A
// malformed notice is dropped.
func Listen(ctx context.Context, s Subscriber, h func(ctx context.Context, n Notice)) (bus.Subscription, error) {
	subj, err := bus.NewSubject(subjectName)
	if err != nil {
		return nil, err
	}
	return s.Subscribe(ctx, subj, func(ctx context.Context, data []byte) {
		var n Notice
		if json.Unmarshal(data, &n) != nil || !n.Valid() {
			return
		}
		h(ctx, n)
	})
}

// Store is a store.Store that publishes a notice after every committed
// change of grants. The change is committed first: a notice never runs
// ahead of the store.
type Store struct {
	store.Store
	bus Publisher
	log *slog.Logger
}

// Wrap returns s publishing grant notices on p.
func Wrap(s store.Store, p Publisher, log *slog.Logger) *Store {
	return &Store{Store: s, bus: p, log: log}
}

func (s *Store) notify(ctx context.Context, n Notice) {
	// The change is committed; a caller that gave up must not stop the
	// notice, nor wait long for it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := Publish(ctx, s.bus, n); err != nil {
		s.log.Warn("publishing a grant notice (caches will see the change by its version)", "err", err)
	}
}

// PutMember stores a membership, then tells the nodes.
func (s *Store) PutMember(ctx context.Context, m domain.Member) error {
	if err := s.Store.PutMember(ctx, m); err != nil {
		return err
	}
	s.notify(ctx, Notice{HomeID: m.HomeID, AccountID: m.AccountID})
	return nil
}

// DeleteMember removes a membership, then tells the nodes.
func (s *Store) DeleteMember(ctx context.Context, homeID, accountID string) error {
	if err := s.Store.DeleteMember(ctx, homeID, accountID); err != nil {
		return err
	}
	s.notify(ctx, Notice{HomeID: homeID, AccountID: accountID})
	return nil
}

// DeleteSession ends a session, then tells the nodes.
func (s *Store) DeleteSession(ctx context.Context, accountID, sessionID string) error {
	if err := s.Store.DeleteSession(ctx, accountID, sessionID); err != nil {
		return err
	}
	s.notify(ctx, Notice{AccountID: accountID})
	return nil
}

// DeleteAccountSessions ends every session of an account, then tells the
// nodes.
func (s *Store) DeleteAccountSessions(ctx context.Context, accountID string) error {
	if err := s.Store.DeleteAccountSessions(ctx, accountID); err != nil {
		return err
	}
	s.notify(ctx, Notice{AccountID: accountID})
	return nil
}

// DeleteDevice removes a camera, then tells the nodes its home's grants
// changed (limited viewers lose it).
func (s *Store) DeleteDevice(ctx context.Context, deviceID string) error {
	dev, err := s.Store.DeviceByID(ctx, deviceID)
	if err != nil {
		return err
	}
	if err := s.Store.DeleteDevice(ctx, deviceID); err != nil {
		return err
	}
	s.notify(ctx, Notice{HomeID: dev.HomeID})
	return nil
}
