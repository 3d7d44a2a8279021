// Package storetest is the conformance suite every store backend must pass.
// A backend's test calls Run with a function that opens a fresh, empty
// store; the suite knows nothing of the backend behind it.
//
// Times are written with nanoseconds and in a zone other than UTC, and
// compared as instants truncated to the microsecond: a backend must keep
// microseconds, and may return any zone. Byte slices must come back with
// the same bytes (an empty slice may come back nil).
package storetest

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/store"
)

// Run runs the suite. open must return a fresh, empty store each call; Run
// closes it.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Accounts", testAccounts},
		{"Sessions", testSessions},
		{"SessionExpiry", testSessionExpiry},
		{"Homes", testHomes},
		{"CreateHomeAtomic", testCreateHomeAtomic},
		{"UpdateHome", testUpdateHome},
		{"Memberships", testMemberships},
		{"Members", testMembers},
		{"PutMemberRefusesForeignCamera", testPutMemberRefusesForeignCamera},
		{"Invitations", testInvitations},
		{"AcceptInvitation", testAcceptInvitation},
		{"InvitationBounds", testInvitationBounds},
		{"InvitationRaces", testInvitationRaces},
		{"Pairing", testPairing},
		{"PairingAtomic", testPairingAtomic},
		{"PairingRace", testPairingRace},
		{"Devices", testDevices},
		{"DeleteDevice", testDeleteDevice},
		{"KeepWarm", testKeepWarm},
		{"Throttle", testThrottle},
		{"ConcurrentWrites", testConcurrentWrites},
		{"Events", testEvents},
		{"EventRetryRace", testEventRetryRace},
		{"UploadTarget", testUploadTarget},
		{"ListEvents", testListEvents},
		{"EventKinds", testEventKinds},
		{"DeleteEvent", testDeleteEvent},
		{"Retention", testRetention},
		{"Audit", testAudit},
		{"AuditHeads", testAuditHeads},
		{"AuditRace", testAuditRace},
		{"Incidents", testIncidents},
		{"GrantVersion", testGrantVersion},
		{"Changes", testChanges},
		{"Leases", testLeases},
		{"Breaker", testBreaker},
		{"KeyCheck", testKeyCheck},
		{"KeyCheckRace", testKeyCheckRace},
		{"KeyGenerations", testKeyGenerations},
		{"KeyUse", testKeyUse},
		{"Reseal", testReseal},
		{"ReindexEmails", testReindexEmails},
		{"ReindexInvitations", testReindexInvitations},
		{"Partners", testPartners},
		{"PartnerRequests", testPartnerRequests},
		{"PartnerLinks", testPartnerLinks},
		{"PartnerTokens", testPartnerTokens},
		{"Webhooks", testWebhooks},
		{"Push", testPush},
		{"MQTTBrokers", testMQTTBrokers},
		{"SetPassword", testSetPassword},
		{"PasswordResets", testPasswordResets},
		{"KnownDevices", testKnownDevices},
		{"Outbox", testOutbox},
		{"TOTP", testTOTP},
		{"Passkeys", testPasskeys},
		{"Challenges", testChallenges},
		{"RequireSecondFactor", testRequireSecondFactor},
		{"DeleteAccount", testDeleteAccount},
		{"TransferOwnership", testTransferOwnership},
		{"Exports", testExports},
		{"Ping", func(t *testing.T, s store.Store) { check(t, "ping", s.Ping(t.Context())) }},
		{"Closed", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

// at is the suite's clock: a fixed instant plus d. It has nanoseconds and
// is not in UTC, so a backend that drops microseconds or keeps wall clock
// time without its zone fails.
func at(d time.Duration) time.Time {
	return time.Date(2026, 11, 23, 11, 30, 0, 123456789, time.FixedZone("CET", 3600)).Add(d)
}

// normTime is the part of a time every backend must keep.
func normTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.Truncate(time.Microsecond).UTC()
}

func sameTime(a, b time.Time) bool { return normTime(a).Equal(normTime(b)) }

func normBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// same fails t unless got and want are equal once both are normalized.
func same[T any](t *testing.T, what string, got, want T, norm func(T) T) {
	t.Helper()
	if g, w := norm(got), norm(want); !reflect.DeepEqual(g, w) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, g, w)
	}
}

// sameList is same for lists, in order; nil and empty lists are equal.
func sameList[T any](t *testing.T, what string, got, want []T, norm func(T) T) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d items, want %d:\n got %+v\nwant %+v", what, len(got), len(want), got, want)
	}
	for i := range got {
		same(t, what, got[i], want[i], norm)
	}
}

func mustNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("%s: %v, want ErrNotFound", what, err)
	}
}

func check(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// random returns bytes unique to this run, with a zero and a 0xff byte in
// them so a backend that treats blobs as text fails.
func random(prefix string) []byte {
	return append([]byte{0, 0xff}, prefix+"-"+id.New()...)
}

func ids[T any](list []T, idOf func(T) string) []string {
	out := make([]string, 0, len(list))
	for _, v := range list {
		out = append(out, idOf(v))
	}
	return out
}

func sortedIDs[T any](list []T, idOf func(T) string) []string {
	out := ids(list, idOf)
	slices.Sort(out)
	return out
}
