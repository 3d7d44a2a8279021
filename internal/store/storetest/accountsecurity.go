package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/store"
)

// testSetPassword: the new hash, the other sessions gone (the kept one
// stays, another account's are untouched), pending resets gone, and the
// account's grant version moved.
func testSetPassword(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := newAccount(t, s), newAccount(t, s)
	keep, other, bs := newSession(t, s, a.ID, at(0)), newSession(t, s, a.ID, at(0)), newSession(t, s, b.ID, at(0))
	reset := domain.PasswordReset{TokenHash: random("reset"), AccountID: a.ID, CreatedAt: at(0), ExpiresAt: at(time.Hour)}
	check(t, "create reset", s.CreatePasswordReset(ctx, reset))
	h := newHome(t, s, a.ID)
	v0, err := s.GrantVersion(ctx, h.ID, a.ID)
	check(t, "grant version", err)

	check(t, "set password", s.SetPassword(ctx, a.ID, "new-hash", keep.ID))
	got, err := s.AccountByID(ctx, a.ID)
	check(t, "account", err)
	if got.PasswordHash != "new-hash" {
		t.Fatalf("password hash %q after SetPassword", got.PasswordHash)
	}
	_, err = s.SessionByTokenHash(ctx, keep.TokenHash)
	check(t, "kept session", err)
	_, err = s.SessionByTokenHash(ctx, other.TokenHash)
	mustNotFound(t, "other session after SetPassword", err)
	_, err = s.SessionByTokenHash(ctx, bs.TokenHash)
	check(t, "another account's session", err)
	_, err = s.PasswordResetByHash(ctx, reset.TokenHash, at(0))
	mustNotFound(t, "pending reset after SetPassword", err)
	if v1, err := s.GrantVersion(ctx, h.ID, a.ID); err != nil || v1 == v0 {
		t.Fatalf("grant version %v -> %v (%v): SetPassword must move it", v0, v1, err)
	}

	check(t, "set password, no session kept", s.SetPassword(ctx, a.ID, "newer-hash", ""))
	_, err = s.SessionByTokenHash(ctx, keep.TokenHash)
	mustNotFound(t, "session after SetPassword keeping none", err)
	mustNotFound(t, "SetPassword of a missing account", s.SetPassword(ctx, id.New(), "h", ""))
}

// testPasswordResets: a reset is read only while live, taken once, and
// taking it sets the password and ends every session; an expired or
// unknown one changes nothing.
func testPasswordResets(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	sess := newSession(t, s, a.ID, at(0))
	r := domain.PasswordReset{TokenHash: random("reset"), AccountID: a.ID, CreatedAt: at(0), ExpiresAt: at(30 * time.Minute)}
	check(t, "create reset", s.CreatePasswordReset(ctx, r))
	got, err := s.PasswordResetByHash(ctx, r.TokenHash, at(time.Minute))
	check(t, "reset by hash", err)
	same(t, "reset by hash", got, r, func(r domain.PasswordReset) domain.PasswordReset {
		r.TokenHash, r.CreatedAt, r.ExpiresAt = normBytes(r.TokenHash), normTime(r.CreatedAt), normTime(r.ExpiresAt)
		return r
	})
	_, err = s.PasswordResetByHash(ctx, r.TokenHash, at(30*time.Minute))
	mustNotFound(t, "reset read at its expiry", err)
	_, err = s.ResetPassword(ctx, r.TokenHash, "late-hash", at(30*time.Minute))
	mustNotFound(t, "reset taken at its expiry", err)
	if acc, _ := s.AccountByID(ctx, a.ID); acc.PasswordHash != a.PasswordHash {
		t.Fatal("an expired reset changed the password")
	}
	_, err = s.ResetPassword(ctx, random("unknown"), "h", at(0))
	mustNotFound(t, "unknown reset", err)

	accountID, err := s.ResetPassword(ctx, r.TokenHash, "reset-hash", at(time.Minute))
	check(t, "reset password", err)
	if accountID != a.ID {
		t.Fatalf("reset password: account %s, want %s", accountID, a.ID)
	}
	if acc, _ := s.AccountByID(ctx, a.ID); acc.PasswordHash != "reset-hash" {
		t.Fatalf("password hash %q after a reset", acc.PasswordHash)
	}
	_, err = s.SessionByTokenHash(ctx, sess.TokenHash)
	mustNotFound(t, "session after a reset", err)
	_, err = s.ResetPassword(ctx, r.TokenHash, "again", at(time.Minute))
	mustNotFound(t, "reset used twice", err)

	// One token, many at once: one wins.
	r2 := domain.PasswordReset{TokenHash: random("reset"), AccountID: a.ID, CreatedAt: at(0), ExpiresAt: at(time.Hour)}
	check(t, "create reset", s.CreatePasswordReset(ctx, r2))
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := range 8 {
		wg.Go(func() {
			if _, err := s.ResetPassword(ctx, r2.TokenHash, fmt.Sprint("race-", i), at(time.Minute)); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d concurrent resets with one token succeeded, want 1", wins)
	}

	old := domain.PasswordReset{TokenHash: random("reset"), AccountID: a.ID, CreatedAt: at(0), ExpiresAt: at(time.Minute)}
	live := domain.PasswordReset{TokenHash: random("reset"), AccountID: a.ID, CreatedAt: at(0), ExpiresAt: at(time.Hour)}
	check(t, "create reset", s.CreatePasswordReset(ctx, old))
	check(t, "create reset", s.CreatePasswordReset(ctx, live))
	n, err := s.DeleteExpiredPasswordResets(ctx, at(2*time.Minute))
	check(t, "delete expired resets", err)
	if n != 1 {
		t.Fatalf("deleted %d expired resets, want 1", n)
	}
	_, err = s.PasswordResetByHash(ctx, live.TokenHash, at(2*time.Minute))
	check(t, "live reset after the sweep", err)
}

// testKnownDevices: the first device of an account is new with no
// others, the same device again is known, another is new with others.
func testKnownDevices(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := newAccount(t, s), newAccount(t, s)
	d1, d2 := random("device"), random("device")
	remember := func(acc string, h []byte, when time.Duration) (bool, bool) {
		t.Helper()
		isNew, others, err := s.RememberDevice(ctx, domain.KnownDevice{AccountID: acc, Hash: h, FirstSeen: at(when), LastSeen: at(when)})
		check(t, "remember device", err)
		return isNew, others
	}
	if n, o := remember(a.ID, d1, 0); !n || o {
		t.Fatalf("first device: new %v, others %v; want new, no others", n, o)
	}
	if n, o := remember(a.ID, d1, time.Hour); n || o {
		t.Fatalf("same device again: new %v, others %v; want known, no others", n, o)
	}
	if n, o := remember(a.ID, d2, 2*time.Hour); !n || !o {
		t.Fatalf("second device: new %v, others %v; want new, others", n, o)
	}
	if n, o := remember(b.ID, d1, 0); !n || o {
		t.Fatalf("another account's device: new %v, others %v; want new, no others", n, o)
	}
	// d1 of a was last seen at 1h, d2 at 2h, d1 of b at 0.
	n, err := s.ForgetDevicesBefore(ctx, at(90*time.Minute))
	check(t, "forget devices", err)
	if n != 2 {
		t.Fatalf("forgot %d devices, want 2", n)
	}
	if n, o := remember(a.ID, d2, 3*time.Hour); n || o {
		t.Fatalf("kept device: new %v, others %v; want known, no others", n, o)
	}
}

func normMail(m domain.Mail) domain.Mail {
	m.Sealed = normBytes(m.Sealed)
	m.CreatedAt, m.NextAttemptAt, m.ClaimedUntil = normTime(m.CreatedAt), normTime(m.NextAttemptAt), normTime(m.ClaimedUntil)
	return m
}

// testOutbox: due mails are claimed oldest first, at most limit, and not
// again while held; a retried mail comes back when due; a deleted one
// never.
func testOutbox(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	var ms []domain.Mail
	for i := range 3 {
		m := domain.Mail{ID: id.New(), AccountID: a.ID, Sealed: random("body"), CreatedAt: at(0), NextAttemptAt: at(time.Duration(i) * time.Second)}
		check(t, "enqueue", s.EnqueueMail(ctx, m))
		ms = append(ms, m)
	}
	later := domain.Mail{ID: id.New(), AccountID: a.ID, Sealed: random("body"), CreatedAt: at(0), NextAttemptAt: at(time.Hour)}
	check(t, "enqueue", s.EnqueueMail(ctx, later))

	got, err := s.ClaimMail(ctx, at(time.Minute), at(2*time.Minute), 2)
	check(t, "claim", err)
	want := []domain.Mail{ms[0], ms[1]}
	for i := range want {
		want[i].ClaimedUntil = at(2 * time.Minute)
	}
	sameList(t, "first claim", got, want, normMail)
	got, err = s.ClaimMail(ctx, at(time.Minute), at(2*time.Minute), 10)
	check(t, "claim", err)
	if len(got) != 1 || got[0].ID != ms[2].ID {
		t.Fatalf("second claim: %v, want only the third mail", ids(got, func(m domain.Mail) string { return m.ID }))
	}
	got, err = s.ClaimMail(ctx, at(time.Minute), at(2*time.Minute), 10)
	check(t, "claim", err)
	if len(got) != 0 {
		t.Fatalf("claim while every due mail is held: %d mails", len(got))
	}
	// The claim runs out: the mails are due again.
	got, err = s.ClaimMail(ctx, at(2*time.Minute), at(3*time.Minute), 10)
	check(t, "claim after the hold ran out", err)
	if len(got) != 3 {
		t.Fatalf("claim after the hold ran out: %d mails, want 3", len(got))
	}
	check(t, "retry", s.RetryMail(ctx, ms[0].ID, 1, at(10*time.Minute)))
	check(t, "delete", s.DeleteMail(ctx, ms[1].ID))
	check(t, "delete", s.DeleteMail(ctx, ms[2].ID))
	mustNotFound(t, "delete twice", s.DeleteMail(ctx, ms[2].ID))
	mustNotFound(t, "retry a deleted mail", s.RetryMail(ctx, ms[2].ID, 1, at(0)))
	got, err = s.ClaimMail(ctx, at(5*time.Minute), at(6*time.Minute), 10)
	check(t, "claim before the retry is due", err)
	if len(got) != 0 {
		t.Fatalf("claim before the retry is due: %d mails", len(got))
	}
	got, err = s.ClaimMail(ctx, at(10*time.Minute), at(11*time.Minute), 10)
	check(t, "claim the retry", err)
	want0 := ms[0]
	want0.Attempts, want0.NextAttemptAt, want0.ClaimedUntil = 1, at(10*time.Minute), at(11*time.Minute)
	sameList(t, "retried mail", got, []domain.Mail{want0}, normMail)

	check(t, "delete", s.DeleteMail(ctx, ms[0].ID))
	// Many claimers at once: every mail claimed once.
	const n = 40
	for range n {
		check(t, "enqueue", s.EnqueueMail(ctx, domain.Mail{ID: id.New(), AccountID: a.ID, Sealed: random("b"), CreatedAt: at(0), NextAttemptAt: at(20 * time.Minute)}))
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[string]int{}
	for range 6 {
		wg.Go(func() {
			for {
				got, err := s.ClaimMail(ctx, at(20*time.Minute), at(30*time.Minute), 3)
				if err != nil {
					t.Errorf("concurrent claim: %v", err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, m := range got {
					seen[m.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("concurrent claims got %d mails, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Fatalf("mail %s claimed %d times", id, c)
		}
	}
}
