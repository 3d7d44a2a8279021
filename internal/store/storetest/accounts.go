package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/store"
)

func normAccount(a domain.Account) domain.Account {
	a.EmailIndex, a.EmailSealed, a.CreatedAt = normBytes(a.EmailIndex), normBytes(a.EmailSealed), normTime(a.CreatedAt)
	return a
}

func normSession(s domain.Session) domain.Session {
	s.TokenHash, s.ClientSealed = normBytes(s.TokenHash), normBytes(s.ClientSealed)
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = normTime(s.CreatedAt), normTime(s.LastSeenAt), normTime(s.ExpiresAt)
	return s
}

func newAccount(t *testing.T, s store.Store) domain.Account {
	t.Helper()
	a := domain.Account{ID: id.New(), EmailIndex: random("index"), EmailGen: 3, EmailSealed: random("sealed"),
		PasswordHash: "$argon2id$v=19$m=65536,t=3,p=2$c2FsdHNhbHQ$aGFzaGhhc2g", CreatedAt: at(0)}
	check(t, "create account", s.CreateAccount(t.Context(), a))
	return a
}

func testAccounts(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := newAccount(t, s), newAccount(t, s)

	got, err := s.AccountByID(ctx, a.ID)
	check(t, "account by id", err)
	same(t, "account by id", got, a, normAccount)
	got, err = s.AccountByEmailIndex(ctx, b.EmailIndex)
	check(t, "account by email index", err)
	same(t, "account by email index", got, b, normAccount)

	dup := newAccountValue()
	dup.EmailIndex = a.EmailIndex
	if err := s.CreateAccount(ctx, dup); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second account with one email index: %v, want ErrConflict", err)
	}
	_, err = s.AccountByID(ctx, dup.ID)
	mustNotFound(t, "account refused for its email index", err)
	got, _ = s.AccountByEmailIndex(ctx, a.EmailIndex)
	same(t, "first account after a refused duplicate", got, a, normAccount)

	_, err = s.AccountByID(ctx, id.New())
	mustNotFound(t, "missing account", err)
	_, err = s.AccountByEmailIndex(ctx, random("index"))
	mustNotFound(t, "missing email index", err)
	// A prefix of an index is another index.
	_, err = s.AccountByEmailIndex(ctx, a.EmailIndex[:len(a.EmailIndex)-1])
	mustNotFound(t, "prefix of an email index", err)

	// Several indexes (one email under each key generation): any finds
	// its account, and of two accounts the one first in the list wins.
	got, err = s.AccountByEmailIndex(ctx, random("index"), b.EmailIndex, random("index"))
	check(t, "account by one of three indexes", err)
	same(t, "account by one of three indexes", got, b, normAccount)
	got, err = s.AccountByEmailIndex(ctx, a.EmailIndex, b.EmailIndex)
	check(t, "account by two accounts' indexes", err)
	same(t, "first of two accounts", got, a, normAccount)
	got, err = s.AccountByEmailIndex(ctx, b.EmailIndex, a.EmailIndex)
	check(t, "account by two accounts' indexes, the other way", err)
	same(t, "first of two accounts, the other way", got, b, normAccount)
	_, err = s.AccountByEmailIndex(ctx, random("index"), random("index"))
	mustNotFound(t, "two unknown indexes", err)
	_, err = s.AccountByEmailIndex(ctx)
	mustNotFound(t, "no index", err)
}

func newAccountValue() domain.Account {
	return domain.Account{ID: id.New(), EmailIndex: random("index"), EmailSealed: random("sealed"), PasswordHash: "h", CreatedAt: at(0)}
}

func newSession(t *testing.T, s store.Store, accountID string, created time.Time) domain.Session {
	t.Helper()
	sess := domain.Session{ID: id.New(), AccountID: accountID, TokenHash: random("token"), ClientSealed: random("client"),
		CreatedAt: created, LastSeenAt: created, ExpiresAt: created.Add(24 * time.Hour)}
	check(t, "create session", s.CreateSession(t.Context(), sess))
	return sess
}

func sessionID(s domain.Session) string { return s.ID }

func testSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := newAccount(t, s), newAccount(t, s)
	s1 := newSession(t, s, a.ID, at(0))
	s2 := newSession(t, s, a.ID, at(time.Second))
	sb := newSession(t, s, b.ID, at(0))

	got, err := s.SessionByTokenHash(ctx, s1.TokenHash)
	check(t, "session by token hash", err)
	same(t, "session by token hash", got, s1, normSession)
	_, err = s.SessionByTokenHash(ctx, random("token"))
	mustNotFound(t, "unknown token hash", err)

	dup := s2
	dup.ID = id.New()
	if err := s.CreateSession(ctx, dup); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second session with one token hash: %v, want ErrConflict", err)
	}

	check(t, "touch", s.TouchSession(ctx, s1.ID, at(time.Hour)))
	got, err = s.SessionByTokenHash(ctx, s1.TokenHash)
	check(t, "session after touch", err)
	want := s1
	want.LastSeenAt = at(time.Hour)
	same(t, "session after touch", got, want, normSession)
	s1 = want
	mustNotFound(t, "touch a missing session", s.TouchSession(ctx, id.New(), at(0)))

	list, err := s.ListSessions(ctx, a.ID)
	check(t, "list sessions", err)
	sameList(t, "sessions of a, oldest first", list, []domain.Session{s1, s2}, normSession)
	list, err = s.ListSessions(ctx, id.New())
	check(t, "list sessions of nobody", err)
	sameList(t, "sessions of nobody", list, nil, normSession)

	// An account cannot end another account's session, even knowing its ID.
	mustNotFound(t, "delete another account's session", s.DeleteSession(ctx, b.ID, s1.ID))
	if _, err := s.SessionByTokenHash(ctx, s1.TokenHash); err != nil {
		t.Fatalf("session deleted by another account: %v", err)
	}
	check(t, "delete session", s.DeleteSession(ctx, a.ID, s1.ID))
	_, err = s.SessionByTokenHash(ctx, s1.TokenHash)
	mustNotFound(t, "deleted session", err)
	mustNotFound(t, "delete a session twice", s.DeleteSession(ctx, a.ID, s1.ID))

	s3 := newSession(t, s, a.ID, at(2*time.Second))
	check(t, "delete account sessions", s.DeleteAccountSessions(ctx, a.ID))
	for _, gone := range []domain.Session{s2, s3} {
		_, err = s.SessionByTokenHash(ctx, gone.TokenHash)
		mustNotFound(t, "session after deleting the account's sessions", err)
	}
	list, err = s.ListSessions(ctx, b.ID)
	check(t, "list sessions of b", err)
	sameList(t, "b's sessions after deleting a's", list, []domain.Session{sb}, normSession)
	check(t, "delete sessions of an account without any", s.DeleteAccountSessions(ctx, a.ID))
}

func testSessionExpiry(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	now, idleBefore := at(0), at(-24*time.Hour)
	mk := func(created, seen, expires time.Time) domain.Session {
		sess := domain.Session{ID: id.New(), AccountID: a.ID, TokenHash: random("token"), CreatedAt: created, LastSeenAt: seen, ExpiresAt: expires}
		check(t, "create session", s.CreateSession(ctx, sess))
		return sess
	}
	live := mk(at(-time.Hour), at(-time.Minute), at(time.Hour))
	idleButSeen := mk(at(-48*time.Hour), at(-23*time.Hour), at(time.Hour))
	expired := mk(at(-time.Hour), at(-time.Minute), at(-time.Second))
	idle := mk(at(-48*time.Hour), at(-25*time.Hour), at(time.Hour))

	n, err := s.DeleteExpiredSessions(ctx, now, idleBefore)
	check(t, "delete expired sessions", err)
	if n != 2 {
		t.Fatalf("deleted %d sessions, want 2 (one expired, one idle)", n)
	}
	for _, gone := range []domain.Session{expired, idle} {
		_, err := s.SessionByTokenHash(ctx, gone.TokenHash)
		mustNotFound(t, "expired or idle session", err)
	}
	list, err := s.ListSessions(ctx, a.ID)
	check(t, "list sessions", err)
	if got := sortedIDs(list, sessionID); !slices.Equal(got, sortedIDs([]domain.Session{live, idleButSeen}, sessionID)) {
		t.Fatalf("sessions left %v, want the live ones", got)
	}
	n, err = s.DeleteExpiredSessions(ctx, now, idleBefore)
	check(t, "delete expired sessions again", err)
	if n != 0 {
		t.Fatalf("deleted %d sessions the second time, want 0", n)
	}
}
