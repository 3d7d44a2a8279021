package audit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/identity"
	"github.com/camvault/camvault/internal/store"
)

// Decider is what reading a home's log needs of authorization;
// *authz.Decider is one.
type Decider interface {
	Home(ctx context.Context, p authz.Principal, homeID string, action authz.Action) (authz.Grant, error)
}

// Accounts names the people in the log; *identity.Service is one.
type Accounts interface {
	Account(ctx context.Context, accountID string) (identity.Account, error)
}

// Partners names the partners in the log; the store is one.
type Partners interface {
	PartnerByID(ctx context.Context, id string) (domain.Partner, error)
}

// ReadAction is what a person must be allowed in a home to read its log:
// the owner and admins, who decide who sees what, see who looked.
const ReadAction = authz.ManageMembers

// View is an audit entry as a home's owners and admins read it, or a run
// of repeated views grouped into one (Count > 1).
type View struct {
	Seq       int64                `json:"seq"`
	At        time.Time            `json:"at"`
	Actor     string               `json:"actor"` // the person's email, the partner's name, or "camera <id>"
	ActorKind domain.PrincipalKind `json:"actor_kind"`
	ActorID   string               `json:"actor_id"`
	Action    string               `json:"action"`
	DeviceID  string               `json:"device_id"`
	EventID   string               `json:"event_id"`
	Result    string               `json:"result"`
	// Detail says what changed; Client from which kind of device; Subject
	// names the account the action was done to (SubjectID).
	Detail    string `json:"detail,omitempty"`
	Client    string `json:"client,omitempty"`
	SubjectID string `json:"subject_id,omitempty"`
	Subject   string `json:"subject,omitempty"`
	// Count is how many entries this one stands for (1 unless grouped);
	// a group runs from FirstAt to At, and names a camera or an event only
	// when all of its entries have the same one.
	Count   int        `json:"count"`
	FirstAt *time.Time `json:"first_at,omitempty"`
}

// Query is what a reader asks of a home's log.
type Query struct {
	Before int64 // list entries below this seq (0: from the newest)
	Limit  int   // at most this many views (default 100, at most 1000)
	// Only entries with this actor (an account's, a partner's or a
	// camera's ID), about this camera, and of this action ("clip.view")
	// or family of actions ("device." for all of a camera's changes).
	Actor, Device, Action string
	// Group makes repeated views (pictures, clips, events, live) by the
	// same actor from the same device, each within groupGap of the next,
	// one view with a count: a scroll through the timeline is one line.
	Group bool
}

// groupGap is the most time between two views of one group.
const groupGap = 10 * time.Minute

// maxScan bounds the entries one filtered or grouped read goes through.
const maxScan = 5000

// groupable reports whether entries of action are views that repeat.
func groupable(action string) bool {
	switch action {
	case ViewEvent, ViewThumbnail, ViewClip, "live.view", "live.end":
		return true
	}
	return false
}

// Reader lists a home's log for the people allowed to read it ("Who
// watched" and GET /api/v1/homes/{home}/audit).
type Reader struct {
	log      *Log
	authz    Decider
	accounts Accounts
	partners Partners // nil: partners are named by their ID
}

// NewReader returns a reader of l.
func NewReader(l *Log, d Decider, a Accounts) *Reader {
	return &Reader{log: l, authz: d, accounts: a}
}

const (
	defaultListLimit = 100
	maxListLimit     = 1000
)

// WithPartners makes r name partners (the actor of their accesses) by
// the name their operator gave them.
func (r *Reader) WithPartners(p Partners) *Reader {
	r.partners = p
	return r
}

// List returns a home's entries matching q, newest first, with each person
// named by their email, and the seq to ask for the next page before (0:
// no more). Owners and admins only; a stranger gets the same not-found as
// for a missing home.
func (r *Reader) List(ctx context.Context, p authz.Principal, homeID string, q Query) ([]View, int64, error) {
	if _, err := r.authz.Home(ctx, p, homeID, ReadAction); err != nil {
		return nil, 0, err
	}
	if q.Limit == 0 {
		q.Limit = defaultListLimit
	}
	if q.Limit < 1 || q.Limit > maxListLimit {
		return nil, 0, apperr.New(apperr.Invalid, "limit must be 1 to %d", maxListLimit)
	}
	if len(q.Actor) > 64 || len(q.Device) > 64 || len(q.Action) > 64 {
		return nil, 0, apperr.New(apperr.Invalid, "actor, device and action are at most 64 characters")
	}
	filtered := q.Actor != "" || q.Device != "" || q.Action != ""
	page := q.Limit
	if filtered || q.Group {
		page = 200
	}
	var (
		out     []View
		before  = q.Before
		scanned int
		names   = map[string]string{}
	)
	for {
		list, err := r.log.List(ctx, homeID, before, page)
		if err != nil {
			return nil, 0, fmt.Errorf("list audit entries: %w", err)
		}
		for i, e := range list {
			before = e.Seq
			scanned++
			if !matches(q, e) {
				continue
			}
			if q.Group && len(out) > 0 && joins(&out[len(out)-1], e) {
				continue
			}
			if len(out) == q.Limit {
				// Full: the next page starts at this entry.
				return out, list[i].Seq + 1, nil
			}
			v, err := r.view(ctx, e, names)
			if err != nil {
				return nil, 0, err
			}
			out = append(out, v)
		}
		if len(list) < page || before <= 1 {
			return out, 0, nil
		}
		if len(out) == q.Limit && !q.Group {
			return out, before, nil
		}
		if scanned >= maxScan {
			return out, before, nil
		}
	}
}

// matches reports whether e is one q asks for.
func matches(q Query, e domain.AuditEntry) bool {
	if q.Actor != "" && e.ActorID != q.Actor {
		return false
	}
	if q.Device != "" && e.DeviceID != q.Device {
		return false
	}
	if q.Action != "" && e.Action != q.Action && !(strings.HasSuffix(q.Action, ".") && strings.HasPrefix(e.Action, q.Action)) {
		return false
	}
	return true
}

// joins adds e, older than the views in g, to the group g if it is one
// more of the same views.
func joins(g *View, e domain.AuditEntry) bool {
	first := g.At
	if g.FirstAt != nil {
		first = *g.FirstAt
	}
	if !groupable(e.Action) || e.Action != g.Action || e.ActorKind != g.ActorKind || e.ActorID != g.ActorID ||
		e.Client != g.Client || e.Result != g.Result || first.Sub(e.At) > groupGap {
		return false
	}
	g.Count++
	at := e.At
	g.FirstAt = &at
	if e.DeviceID != g.DeviceID {
		g.DeviceID = ""
	}
	if e.EventID != g.EventID {
		g.EventID = ""
	}
	return true
}

// view is e as its reader sees it, people and partners named (names
// caches them by ID).
func (r *Reader) view(ctx context.Context, e domain.AuditEntry, names map[string]string) (View, error) {
	v := View{Seq: e.Seq, At: e.At, ActorKind: e.ActorKind, ActorID: e.ActorID, Action: e.Action,
		DeviceID: e.DeviceID, EventID: e.EventID, Result: e.Result, Detail: e.Detail, Client: e.Client,
		SubjectID: e.SubjectID, Count: 1}
	switch e.ActorKind {
	case domain.PrincipalPerson:
		name, err := r.personName(ctx, e.ActorID, names)
		if err != nil {
			return View{}, err
		}
		v.Actor = name
	case domain.PrincipalIntegration:
		key := "partner/" + e.ActorID
		if e.ActorID == IntegrationMQTT {
			names[key] = "the home's MQTT broker"
		}
		if _, ok := names[key]; !ok {
			names[key] = "partner " + e.ActorID
			if r.partners != nil {
				switch p, err := r.partners.PartnerByID(ctx, e.ActorID); {
				case err == nil:
					names[key] = p.Name + " (linked partner)"
				case !errors.Is(err, store.ErrNotFound):
					return View{}, fmt.Errorf("name the partner of an audit entry: %w", err)
				}
			}
		}
		v.Actor = names[key]
	default:
		v.Actor = string(e.ActorKind) + " " + e.ActorID
	}
	if e.SubjectID != "" {
		name, err := r.personName(ctx, e.SubjectID, names)
		if err != nil {
			return View{}, err
		}
		v.Subject = name
	}
	return v, nil
}

// personName is an account's email, or "a former account".
func (r *Reader) personName(ctx context.Context, accountID string, names map[string]string) (string, error) {
	if n, ok := names[accountID]; ok {
		return n, nil
	}
	switch a, err := r.accounts.Account(ctx, accountID); {
	case err == nil:
		names[accountID] = a.Email
	case apperr.CodeOf(err) == apperr.NotFound:
		names[accountID] = "a former account"
	default:
		return "", fmt.Errorf("name a person of an audit entry: %w", err)
	}
	return names[accountID], nil
}
