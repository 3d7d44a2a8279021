package audit

import (
	"context"
	"errors"
	"fmt"
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

// View is an audit entry as a home's owners and admins read it.
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

// List returns a home's entries below beforeSeq (0: from the newest),
// newest first, with each person named by their email. Owners and admins
// only; a stranger gets the same not-found as for a missing home.
func (r *Reader) List(ctx context.Context, p authz.Principal, homeID string, beforeSeq int64, limit int) ([]View, error) {
	if _, err := r.authz.Home(ctx, p, homeID, ReadAction); err != nil {
		return nil, err
	}
	if limit == 0 {
		limit = defaultListLimit
	}
	if limit < 1 || limit > maxListLimit {
		return nil, apperr.New(apperr.Invalid, "limit must be 1 to %d", maxListLimit)
	}
	list, err := r.log.List(ctx, homeID, beforeSeq, limit)
	if err != nil {
		return nil, fmt.Errorf("list audit entries: %w", err)
	}
	names := map[string]string{}
	out := make([]View, 0, len(list))
	for _, e := range list {
		v := View{Seq: e.Seq, At: e.At, ActorKind: e.ActorKind, ActorID: e.ActorID, Action: e.Action,
			DeviceID: e.DeviceID, EventID: e.EventID, Result: e.Result}
		switch e.ActorKind {
		case domain.PrincipalPerson:
			if _, ok := names[e.ActorID]; !ok {
				switch a, err := r.accounts.Account(ctx, e.ActorID); {
				case err == nil:
					names[e.ActorID] = a.Email
				case apperr.CodeOf(err) == apperr.NotFound:
					names[e.ActorID] = "a former account"
				default:
					return nil, fmt.Errorf("name the actor of an audit entry: %w", err)
				}
			}
			v.Actor = names[e.ActorID]
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
						return nil, fmt.Errorf("name the partner of an audit entry: %w", err)
					}
				}
			}
			v.Actor = names[key]
		default:
			v.Actor = string(e.ActorKind) + " " + e.ActorID
		}
		out = append(out, v)
	}
	return out, nil
}
