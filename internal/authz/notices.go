package authz

// Grant notices: after every committed change of who may see what, every
// node is told over the bus, and every node (this one included) drops the
// cached grants the notice names. The grant cache's key (grantKey), what
// announces a change and what drops an entry live here together, so a
// change of one cannot leave the others silently missing.
//
// Nothing depends on a notice arriving: every cached grant carries the
// grant version it was computed from, checked against the store on every
// request (docs/design/cache.md). A stale entry is a miss on its next use
// anyway; a notice only frees the memory, or the shared Redis entry,
// sooner. A lost, late or forged notice costs at most a cache miss.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/camvault/camvault/internal/bus"
	"github.com/camvault/camvault/internal/cache"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/store"
)

// noticeSubject is the one subject of grant notices: every node listens to
// all of them, and the body names whose grants changed.
const noticeSubject = "grants"

// noticeTimeout bounds publishing one notice after its change committed.
const noticeTimeout = 5 * time.Second

// GrantNotice says that the grants of an account in a home changed. Either
// may be empty: an account alone after a logout (all its homes), a home
// alone after a camera was unpaired (all its members). PartnerID names a
// partner whose links changed: one link (with the account) unlinked or
// replaced, or every link at once (alone) when the partner was disabled
// or enabled; no cached grant is dropped for it (partner links are never
// cached), but live sessions are re-decided at once.
type GrantNotice struct {
	HomeID    string `json:"home_id,omitempty"`
	AccountID string `json:"account_id,omitempty"`
	PartnerID string `json:"partner_id,omitempty"`
}

// Valid reports whether n names at least one thing, each a well-formed ID.
func (n GrantNotice) Valid() bool {
	return (n.HomeID != "" || n.AccountID != "" || n.PartnerID != "") &&
		(n.HomeID == "" || id.Valid(n.HomeID)) && (n.AccountID == "" || id.Valid(n.AccountID)) &&
		(n.PartnerID == "" || id.Valid(n.PartnerID))
}

// Publisher is what announcing needs of the bus.
type Publisher interface {
	Publish(ctx context.Context, s bus.Subject, data []byte) error
}

// Subscriber is what listening needs of the bus.
type Subscriber interface {
	Subscribe(ctx context.Context, s bus.Subject, h bus.Handler) (bus.Subscription, error)
}

// PublishGrantNotice sends n to every node. It is best effort by design.
func PublishGrantNotice(ctx context.Context, p Publisher, n GrantNotice) error {
	if !n.Valid() {
		return errors.New("grant notice: names no valid home or account")
	}
	subj, err := bus.NewSubject(noticeSubject)
	if err != nil {
		return err
	}
	b, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("grant notice: %w", err)
	}
	if err := p.Publish(ctx, subj, b); err != nil {
		return fmt.Errorf("grant notice: %w", err)
	}
	return nil
}

// ListenGrantNotices calls h with every well-formed notice published from
// now on, by any node (this one included), until the subscription is
// ended. A malformed notice is dropped.
func ListenGrantNotices(ctx context.Context, s Subscriber, h func(ctx context.Context, n GrantNotice)) (bus.Subscription, error) {
	subj, err := bus.NewSubject(noticeSubject)
	if err != nil {
		return nil, err
	}
	return s.Subscribe(ctx, subj, func(ctx context.Context, data []byte) {
		var n GrantNotice
		if json.Unmarshal(data, &n) != nil || !n.Valid() {
			return
		}
		h(ctx, n)
	})
}

// AnnouncingStore is a store.Store that publishes a GrantNotice after every
// committed change of grants. The change is committed first: a notice never
// runs ahead of the store.
type AnnouncingStore struct {
	store.Store
	bus Publisher
	log *slog.Logger
}

// AnnounceGrantChanges returns s publishing grant notices on p.
func AnnounceGrantChanges(s store.Store, p Publisher, log *slog.Logger) *AnnouncingStore {
	return &AnnouncingStore{Store: s, bus: p, log: log}
}

func (s *AnnouncingStore) notify(ctx context.Context, n GrantNotice) {
	// The change is committed; a caller that gave up must not stop the
	// notice, nor wait long for it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), noticeTimeout)
	defer cancel()
	if err := PublishGrantNotice(ctx, s.bus, n); err != nil {
		s.log.WarnContext(ctx, "publishing a grant notice (caches will see the change by its version)", "err", err)
	}
}

// PutMember stores a membership, then tells the nodes.
func (s *AnnouncingStore) PutMember(ctx context.Context, m domain.Member) error {
	if err := s.Store.PutMember(ctx, m); err != nil {
		return err
	}
	s.notify(ctx, GrantNotice{HomeID: m.HomeID, AccountID: m.AccountID})
	return nil
}

// AcceptInvitation makes the invitee a member, then tells the nodes.
func (s *AnnouncingStore) AcceptInvitation(ctx context.Context, id string, emailIndex []byte, accountID string, now time.Time) (domain.Member, error) {
	m, err := s.Store.AcceptInvitation(ctx, id, emailIndex, accountID, now)
	if err != nil {
		return domain.Member{}, err
	}
	s.notify(ctx, GrantNotice{HomeID: m.HomeID, AccountID: m.AccountID})
	return m, nil
}

// DeleteMember removes a membership, then tells the nodes.
func (s *AnnouncingStore) DeleteMember(ctx context.Context, homeID, accountID string) error {
	if err := s.Store.DeleteMember(ctx, homeID, accountID); err != nil {
		return err
	}
	s.notify(ctx, GrantNotice{HomeID: homeID, AccountID: accountID})
	return nil
}

// DeleteSession ends a session, then tells the nodes.
func (s *AnnouncingStore) DeleteSession(ctx context.Context, accountID, sessionID string) error {
	if err := s.Store.DeleteSession(ctx, accountID, sessionID); err != nil {
		return err
	}
	s.notify(ctx, GrantNotice{AccountID: accountID})
	return nil
}

// DeleteAccountSessions ends every session of an account, then tells the
// nodes.
func (s *AnnouncingStore) DeleteAccountSessions(ctx context.Context, accountID string) error {
	if err := s.Store.DeleteAccountSessions(ctx, accountID); err != nil {
		return err
	}
	s.notify(ctx, GrantNotice{AccountID: accountID})
	return nil
}

// DeleteDevice removes a camera, then tells the nodes its home's grants
// changed (limited viewers lose it).
func (s *AnnouncingStore) DeleteDevice(ctx context.Context, deviceID string) error {
	dev, err := s.Store.DeviceByID(ctx, deviceID)
	if err != nil {
		return err
	}
	if err := s.Store.DeleteDevice(ctx, deviceID); err != nil {
		return err
	}
	s.notify(ctx, GrantNotice{HomeID: dev.HomeID})
	return nil
}

// DeletePartnerLink removes a person's link with a partner, then tells the
// nodes, so live sessions of the link end at once.
func (s *AnnouncingStore) DeletePartnerLink(ctx context.Context, accountID, linkID string) error {
	link, err := s.Store.PartnerLink(ctx, linkID)
	if err != nil {
		return err
	}
	if err := s.Store.DeletePartnerLink(ctx, accountID, linkID); err != nil {
		return err
	}
	s.notify(ctx, GrantNotice{AccountID: accountID, PartnerID: link.PartnerID})
	return nil
}

// SetPartnerDisabled disables or enables a partner, then tells the nodes:
// every link of the partner is re-decided at once.
func (s *AnnouncingStore) SetPartnerDisabled(ctx context.Context, partnerID string, disabled bool) error {
	if err := s.Store.SetPartnerDisabled(ctx, partnerID, disabled); err != nil {
		return err
	}
	s.notify(ctx, GrantNotice{PartnerID: partnerID})
	return nil
}

// Dropper is what dropping needs of the cache; *cache.Cache is one.
type Dropper interface {
	Delete(ctx context.Context, key cache.Key, tenant string) error
}

// Members is what dropping reads to widen a notice that names only an
// account (its homes) or only a home (its members).
type Members interface {
	Memberships(ctx context.Context, accountID string) ([]domain.Membership, error)
	ListMembers(ctx context.Context, homeID string) ([]domain.Member, error)
}

// DropCachedGrants returns what a node does with a grant notice from any
// node: it drops the cached memberships the notice concerns.
func DropCachedGrants(c Dropper, st Members, log *slog.Logger) func(context.Context, GrantNotice) {
	drop := func(ctx context.Context, homeID, accountID string) {
		if err := c.Delete(ctx, grantKey(homeID, accountID), homeID); err != nil {
			log.DebugContext(ctx, "dropping a cached grant", "err", err)
		}
	}
	return func(ctx context.Context, n GrantNotice) {
		if n.PartnerID != "" {
			return // a partner's links: nothing of them is cached
		}
		switch {
		case n.HomeID != "" && n.AccountID != "":
			drop(ctx, n.HomeID, n.AccountID)
		case n.AccountID != "": // a logout: the account's every home
			ms, err := st.Memberships(ctx, n.AccountID)
			if err != nil {
				log.DebugContext(ctx, "reading memberships to drop cached grants", "err", err)
				return
			}
			for _, m := range ms {
				drop(ctx, m.Home.ID, n.AccountID)
			}
		default: // a camera unpaired: every member of its home
			members, err := st.ListMembers(ctx, n.HomeID)
			if err != nil {
				log.DebugContext(ctx, "reading members to drop cached grants", "err", err)
				return
			}
			for _, m := range members {
				drop(ctx, n.HomeID, m.AccountID)
			}
		}
	}
}

// DropOnNotice makes this node drop the cached grants every notice names,
// from now until the subscription ends (the bus closes).
func DropOnNotice(ctx context.Context, s Subscriber, c Dropper, st Members, log *slog.Logger) (bus.Subscription, error) {
	sub, err := ListenGrantNotices(ctx, s, DropCachedGrants(c, st, log))
	if err != nil {
		return nil, fmt.Errorf("listen for grant notices: %w", err)
	}
	return sub, nil
}
