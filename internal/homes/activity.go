package homes

import (
	"context"
	"fmt"
	"strings"

	"github.com/camvault/camvault/internal/audit"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/domain"
)

// What people do to a home, recorded on its audit chain beside media
// access, so that the household can read who changed what
// (docs/design/activity.md). Each is recorded after the change committed.
const (
	AuditMemberUpdate = "member.update"       // a member's role or cameras changed; the subject is the member
	AuditMemberRemove = "member.remove"       // an owner or admin removed a member; the subject is the member
	AuditMemberLeave  = "member.leave"        // a member left
	AuditPairingCode  = "device.pairing_code" // an owner or admin made a pairing code
	AuditPair         = "device.pair"         // a camera paired with a code; the actor is the camera
	AuditRename       = "device.rename"       // a camera was renamed (its name is sealed, not recorded)
	AuditDeviceUpdate = "device.update"       // a camera's settings changed (keep warm)
	AuditUnpair       = "device.remove"       // a camera was unpaired
	AuditSettings     = "home.settings"       // the home's name, retention or second-factor requirement changed
)

// note records e on the home's chain, with result ok unless given.
func (s *Service) note(ctx context.Context, homeID string, e audit.Entry) error {
	if e.Result == "" {
		e.Result = audit.ResultOK
	}
	if err := s.audit.Record(ctx, homeID, e); err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	return nil
}

// personEntry is an entry with p, a person, as actor.
func personEntry(p authz.Principal, action string) audit.Entry {
	return audit.Entry{ActorKind: domain.PrincipalPerson, ActorID: p.AccountID, Action: action}
}

// shareDetail says what a membership grants, without naming cameras
// (their names are sealed): "role viewer; 2 cameras".
func shareDetail(role domain.Role, devices []string) string {
	d := "role " + string(role)
	if len(devices) > 0 {
		d += fmt.Sprintf("; %d camera", len(devices))
		if len(devices) > 1 {
			d += "s"
		}
	}
	return d
}

// settingsDetail lists what a change of settings changed.
func settingsDetail(c Settings) string {
	var parts []string
	if c.Name != nil {
		parts = append(parts, "name")
	}
	if c.RetentionDays != nil {
		parts = append(parts, fmt.Sprintf("retention %d days", *c.RetentionDays))
	}
	if c.RequireSecondFactor != nil {
		if *c.RequireSecondFactor {
			parts = append(parts, "second factor required")
		} else {
			parts = append(parts, "second factor not required")
		}
	}
	return strings.Join(parts, "; ")
}
