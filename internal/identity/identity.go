// Package identity owns accounts, passwords and sessions: who a person is.
// What they may do is authz's business.
package identity

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/camvault/camvault/internal/apperr"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/keys"
	"github.com/camvault/camvault/internal/lease"
	"github.com/camvault/camvault/internal/store"
	"github.com/camvault/camvault/internal/throttle"
	"github.com/camvault/camvault/internal/token"
)

// Store is what identity keeps in the store.
type Store interface {
	store.Accounts
	store.Sessions
	store.Throttle
	store.Passwords
	store.SecondFactors
}

// Config tunes sessions and login throttling.
type Config struct {
	SessionTTL  time.Duration // absolute lifetime of a session
	IdleTimeout time.Duration // a session unused this long ends
	// Login throttling, in each ThrottleWindow (docs/design/authorization.md,
	// "Failed logins"). A client address here is the address for IPv4
	// and its /64 network for IPv6.
	//
	// AccountFailures: failed logins per account from one client address;
	// past it that address waits, and only that one: guesses from
	// elsewhere never lock the person out of their own devices.
	// AddressFailures: failed logins per client address over every
	// account, so one address cannot spray. UnknownAddressFailures (0:
	// none): failed logins per account from addresses that have not
	// logged in to it within KnownAddressFor; past it only the addresses
	// the account logged in from may try, so guessing spread over many
	// addresses stays bounded too.
	AccountFailures        int
	AddressFailures        int
	UnknownAddressFailures int
	KnownAddressFor        time.Duration
	ThrottleWindow         time.Duration
	// Sign-ups: at most SignupsPerAddress new accounts per client address
	// in each SignupWindow (the attempt counts, whether it succeeds or
	// not), so one address cannot make accounts without end.
	SignupsPerAddress int
	SignupWindow      time.Duration
	// OTPFailures: wrong one-time codes per account in each
	// ThrottleWindow, from anywhere (only after the right password).
	OTPFailures int
	// PublicURL is the server's address as browsers see it
	// (https://host[:port]): the WebAuthn relying party's origin, its host
	// the relying party ID. Empty: passkeys are off.
	PublicURL string
	Argon2    Argon2Params
	// Password hashing (argon2id, 19 MiB each) runs at most HashSlots at
	// once per node (default: the CPU count); a login or signup waits at
	// most HashWait (default 5 s) for a slot, then is answered 503, so a
	// login flood holds the cores and a bounded amount of memory, not more.
	HashSlots int
	HashWait  time.Duration
	Now       func() time.Time
}

// DefaultConfig is the production configuration.
func DefaultConfig() Config {
	return Config{
		SessionTTL:             30 * 24 * time.Hour,
		IdleTimeout:            7 * 24 * time.Hour,
		AccountFailures:        10,
		AddressFailures:        50,
		UnknownAddressFailures: 100,
		KnownAddressFor:        30 * 24 * time.Hour,
		ThrottleWindow:         15 * time.Minute,
		SignupsPerAddress:      20,
		SignupWindow:           time.Hour,
		OTPFailures:            5,
		Argon2:                 DefaultArgon2,
		Now:                    time.Now,
	}
}

// touchEvery limits how often a session's last use is written: idle timeouts
// are measured in days, so a minute's precision costs nothing.
const touchEvery = time.Minute

// Service is the identity service.
type Service struct {
	store     Store
	keys      *keys.Keyring
	cfg       Config
	dummyHash string // verified against when the email is unknown, so both cases cost the same
	hashing   chan struct{}
	// sessions keeps sessions in process memory, by their token's hash,
	// while the node's lease holds (nil: never; see WithLease).
	sessions *lease.Table[[sha256.Size]byte, domain.Session]
	bypass   func() bool // true: nothing is used from memory
	sec      *security   // mail, password resets, known devices (nil: none; see WithMail)
	// webauthn is the passkeys' relying party (nil: no PublicURL, passkeys
	// are off).
	webauthn *webauthn.WebAuthn
	// onNewDevice is told of each login from a new device (nil: nobody).
	onNewDevice func(ctx context.Context, accountID string)
}

// OnNewDevice has f told of each login from a device the account had not
// logged in from (the one the warning mail is about), after it is
// remembered: the person's homes record it in their activity.
func (s *Service) OnNewDevice(f func(ctx context.Context, accountID string)) *Service {
	s.onNewDevice = f
	return s
}

// maxSessions bounds the sessions a node keeps in memory.
const maxSessions = 1 << 16

// WithLease makes the service keep sessions in process memory while the
// node's lease holds (docs/design/leases.md). Every logout, logout
// everywhere and ended session is a change of the account, which every
// node holding a lease applies before the logout is acknowledged, so a
// session ended on any node is refused by the next request on every node.
// A kept session is used only while it is neither expired nor idle by
// what was kept; otherwise the store decides. While bypass reports true
// (the cache breaker is open) nothing is used from memory. Call it before
// serving.
func (s *Service) WithLease(l lease.Holder, bypass func() bool) *Service {
	s.sessions = lease.NewTable[[sha256.Size]byte, domain.Session](l, maxSessions)
	s.bypass = bypass
	return s
}

// New returns the identity service.
func New(s Store, k *keys.Keyring, cfg Config) (*Service, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HashSlots <= 0 {
		cfg.HashSlots = runtime.NumCPU()
	}
	if cfg.HashWait <= 0 {
		cfg.HashWait = 5 * time.Second
	}
	if cfg.KnownAddressFor <= 0 {
		cfg.KnownAddressFor = DefaultConfig().KnownAddressFor
	}
	if cfg.OTPFailures <= 0 {
		cfg.OTPFailures = DefaultConfig().OTPFailures
	}
	dummy, err := hashPassword("camvault dummy password for unknown accounts", cfg.Argon2)
	if err != nil {
		return nil, err
	}
	svc := &Service{store: s, keys: k, cfg: cfg, dummyHash: dummy, hashing: make(chan struct{}, cfg.HashSlots)}
	if cfg.PublicURL != "" {
		if svc.webauthn, err = relyingParty(cfg.PublicURL); err != nil {
			return nil, fmt.Errorf("passkeys: %w", err)
		}
	}
	return svc, nil
}

// hashSlot takes one of the node's password-hashing slots, waiting at most
// HashWait; release gives it back.
func (s *Service) hashSlot(ctx context.Context) (release func(), err error) {
	wait := time.NewTimer(s.cfg.HashWait)
	defer wait.Stop()
	select {
	case s.hashing <- struct{}{}:
		return func() { <-s.hashing }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-wait.C:
		e := apperr.New(apperr.Unavailable, "the server is busy with logins; retry after the time in Retry-After")
		e.RetryAfter = time.Second
		return nil, e
	}
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// emailIndexPurpose keeps the blind indexes of emails apart from others.
const emailIndexPurpose = "account-email"

// emailIndexes are the blind indexes of a normalized email under every
// master key generation, the current one first: an account is found
// whichever generation indexed it (a rotation rewrites them in the
// background of a stopped server, and may be interrupted).
func (s *Service) emailIndexes(email string) [][]byte {
	return s.keys.BlindIndexes(emailIndexPurpose, email)
}

func emailAD(accountID string) []byte { return keys.AD("account-email", accountID) }

// SignUp is CreateAccount for a person signing up from client: counted
// against the client address's sign-ups first (429 past the limit).
func (s *Service) SignUp(ctx context.Context, email, password string, client Client) (string, error) {
	if s.cfg.SignupsPerAddress > 0 {
		l := throttle.Limiter{Store: s.store, Limit: s.cfg.SignupsPerAddress, Window: s.cfg.SignupWindow,
			Message: "too many new accounts from this address; try again later"}
		if err := l.Attempt(ctx, s.keys.BlindIndex("signup-throttle-address", throttleAddress(client.Address)), s.now()); err != nil {
			return "", err
		}
	}
	return s.CreateAccount(ctx, email, password)
}

// CreateAccount creates an account and returns its ID.
func (s *Service) CreateAccount(ctx context.Context, email, password string) (string, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return "", err
	}
	if err := checkPassword(password, email); err != nil {
		return "", err
	}
	release, err := s.hashSlot(ctx)
	if err != nil {
		return "", err
	}
	hash, err := hashPassword(password, s.cfg.Argon2)
	release()
	if err != nil {
		return "", err
	}
	indexes := s.emailIndexes(email)
	errTaken := apperr.New(apperr.Conflict, "an account with this email already exists")
	if len(indexes) > 1 {
		// The unique index refuses a second account under the current
		// generation's index; one indexed under an older generation
		// (not yet rewritten by a rotation) is looked for first.
		switch _, err := s.store.AccountByEmailIndex(ctx, indexes[1:]...); {
		case err == nil:
			return "", errTaken
		case !errors.Is(err, store.ErrNotFound):
			return "", fmt.Errorf("look up account: %w", err)
		}
	}
	a := domain.Account{
		ID:           id.New(),
		EmailIndex:   indexes[0],
		EmailGen:     s.keys.Current(),
		PasswordHash: hash,
		CreatedAt:    s.now(),
	}
	a.EmailSealed = s.keys.SealPII([]byte(email), emailAD(a.ID))
	if err := s.store.CreateAccount(ctx, a); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return "", errTaken
		}
		return "", fmt.Errorf("create account: %w", err)
	}
	return a.ID, nil
}

// Login is a successful login's result.
type Login struct {
	Token     string
	ExpiresAt time.Time
	AccountID string
}

// maxUserAgent is how much of a client's User-Agent a session keeps.
const maxUserAgent = 256

// Client describes where a login came from; it is kept sealed with the
// session so a person can review their sessions.
type Client struct {
	Address   string `json:"address"`
	UserAgent string `json:"user_agent"`
	// Device is the web app's device cookie, if any (never kept with
	// the session; see password_reset.go, "new device").
	Device string `json:"-"`
}

var errBadLogin = apperr.New(apperr.Unauthorized, "email or password is incorrect")

// Login is LoginOTP without a one-time code.
func (s *Service) Login(ctx context.Context, email, password string, client Client) (Login, error) {
	return s.LoginOTP(ctx, email, password, "", client)
}

// LoginOTP checks an email and password and opens a session. An unknown email
// and a wrong password answer alike and cost the same work. Repeated
// failures are throttled per account and client address, per client
// address, and per account from addresses it has not logged in from
// recently (see Config); none of it depends on whether the account exists.
// Only after the right password is the account's second factor asked for
// (otp: a TOTP code or a recovery code; see secondFactorAtLogin).
func (s *Service) LoginOTP(ctx context.Context, email, password, otp string, client Client) (Login, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return Login{}, err
	}
	now := s.now()
	k := s.loginKeys(email, client.Address)
	l := s.limiters()
	// Each attempt is counted before the password is verified, in one
	// statement per limit: parallel guesses cannot all pass a count read
	// before any of them was added. A right password takes the counts
	// back below.
	if err := l.address.Attempt(ctx, k.address, now); err != nil {
		return Login{}, err
	}
	if err := l.pair.Attempt(ctx, k.pair, now); err != nil {
		return Login{}, err
	}
	known := true
	if s.cfg.UnknownAddressFailures > 0 {
		n, _, err := s.store.ThrottleCount(ctx, k.known, now)
		if err != nil {
			return Login{}, fmt.Errorf("read known address: %w", err)
		}
		known = n > 0
	}
	if !known {
		if err := l.unknown.Attempt(ctx, k.account, now); err != nil {
			return Login{}, err
		}
	}

	a, err := s.store.AccountByEmailIndex(ctx, s.emailIndexes(email)...)
	exists := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return Login{}, fmt.Errorf("look up account: %w", err)
	}
	hash := s.dummyHash
	if exists {
		hash = a.PasswordHash
	}
	release, err := s.hashSlot(ctx)
	if err != nil {
		return Login{}, err
	}
	ok, err := verifyPassword(password, hash)
	release()
	if err != nil {
		return Login{}, fmt.Errorf("verify password: %w", err)
	}
	if !exists || !ok {
		return Login{}, errBadLogin
	}
	if err := l.address.Undo(ctx, k.address, now); err != nil {
		return Login{}, err
	}
	if err := l.pair.Reset(ctx, k.pair); err != nil {
		return Login{}, err
	}
	if !known {
		if err := l.unknown.Undo(ctx, k.account, now); err != nil {
			return Login{}, err
		}
		// The address is known to the account from now on, for
		// KnownAddressFor: a count of successes, in a window of that length.
		if _, _, err := s.store.ThrottleHit(ctx, k.known, now, s.cfg.KnownAddressFor); err != nil {
			return Login{}, fmt.Errorf("record known address: %w", err)
		}
	}
	if err := s.secondFactorAtLogin(ctx, a.ID, otp); err != nil {
		return Login{}, err
	}
	return s.openSession(ctx, a.ID, client, now)
}

// openSession opens a session of an account whose credentials were
// checked.
func (s *Service) openSession(ctx context.Context, accountID string, client Client, now time.Time) (Login, error) {
	if len(client.UserAgent) > maxUserAgent {
		client.UserAgent = client.UserAgent[:maxUserAgent]
	}
	tok, tokHash := token.New(token.Session)
	sess := domain.Session{
		ID:         id.New(),
		AccountID:  accountID,
		TokenHash:  tokHash,
		CreatedAt:  now,
		LastSeenAt: now,
		ExpiresAt:  now.Add(s.cfg.SessionTTL),
	}
	clientJSON, err := json.Marshal(client)
	if err != nil {
		return Login{}, fmt.Errorf("encode client: %w", err)
	}
	sess.ClientSealed = s.keys.SealPII(clientJSON, sessionClientAD(sess.ID))
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return Login{}, fmt.Errorf("create session: %w", err)
	}
	s.noticeDevice(ctx, accountID, client, now)
	return Login{Token: tok, ExpiresAt: sess.ExpiresAt, AccountID: accountID}, nil
}

func sessionClientAD(sessionID string) []byte { return keys.AD("session-client", sessionID) }

// loginThrottleKeys are the throttle keys of one login attempt, blind
// indexes so the store holds neither emails nor addresses.
type loginThrottleKeys struct {
	address []byte // the client address, over every account
	pair    []byte // the account from the client address
	account []byte // the account, from addresses it does not know
	known   []byte // the client address has logged in to the account
}

func (s *Service) loginKeys(email, address string) loginThrottleKeys {
	addr := throttleAddress(address)
	pair := string(keys.Encode([]byte(email), []byte(addr)))
	return loginThrottleKeys{
		address: s.keys.BlindIndex("login-throttle-address", addr),
		pair:    s.keys.BlindIndex("login-throttle-account-address", pair),
		account: s.keys.BlindIndex("login-throttle-account", email),
		known:   s.keys.BlindIndex("login-known-address", pair),
	}
}

// loginLimiters are the login throttles (see Config).
type loginLimiters struct {
	address, pair, unknown throttle.Limiter
}

func (s *Service) limiters() loginLimiters {
	const msg = "too many failed logins; try again later"
	return loginLimiters{
		address: throttle.Limiter{Store: s.store, Limit: s.cfg.AddressFailures, Window: s.cfg.ThrottleWindow, Message: msg},
		pair:    throttle.Limiter{Store: s.store, Limit: s.cfg.AccountFailures, Window: s.cfg.ThrottleWindow, Message: msg},
		unknown: throttle.Limiter{Store: s.store, Limit: s.cfg.UnknownAddressFailures, Window: s.cfg.ThrottleWindow,
			Message: "too many failed logins to this account from new places; try again later, or from a network you logged in from before"},
	}
}

// throttleAddress is what the throttles count a client address as: an
// IPv4 address itself, an IPv6 address its /64 network, since one
// subscriber is commonly given a whole /64 and could otherwise take a
// fresh address for every guess. Anything else (no address) is taken as
// it is.
func throttleAddress(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	p, err := a.Prefix(64)
	if err != nil {
		return a.String()
	}
	return p.String()
}

var errNoSession = apperr.New(apperr.Unauthorized, "a valid session token is required")

// Authenticate turns a session token into the person it belongs to. Expired
// and idle sessions are refused and removed.
func (s *Service) Authenticate(ctx context.Context, tok string) (authz.Principal, error) {
	if !token.Parse(tok, token.Session) {
		return authz.Principal{}, errNoSession
	}
	hash := sha256.Sum256([]byte(tok))
	now := s.now()
	sess, kept, err := s.session(ctx, hash)
	if err == nil && kept && s.ended(sess, now) {
		// Expired or idle by what this node kept: another node may have
		// used it since. The store decides.
		kept = false
		sess, err = s.store.SessionByTokenHash(ctx, hash[:])
	}
	if errors.Is(err, store.ErrNotFound) {
		return authz.Principal{}, errNoSession
	}
	if err != nil {
		return authz.Principal{}, fmt.Errorf("look up session: %w", err)
	}
	if s.ended(sess, now) {
		if err := s.store.DeleteSession(ctx, sess.AccountID, sess.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return authz.Principal{}, fmt.Errorf("remove expired session: %w", err)
		}
		return authz.Principal{}, errNoSession
	}
	if now.Sub(sess.LastSeenAt) >= touchEvery {
		if err := s.store.TouchSession(ctx, sess.ID, now); err != nil {
			return authz.Principal{}, fmt.Errorf("touch session: %w", err)
		}
		if kept {
			s.sessions.Update(hash, func(k domain.Session) domain.Session {
				if k.ID == sess.ID && k.LastSeenAt.Before(now) {
					k.LastSeenAt = now
				}
				return k
			})
		}
	}
	return authz.Principal{Kind: domain.PrincipalPerson, AccountID: sess.AccountID, SessionID: sess.ID}, nil
}

// ended reports whether a session is expired or idle at now.
func (s *Service) ended(sess domain.Session, now time.Time) bool {
	return !now.Before(sess.ExpiresAt) || now.Sub(sess.LastSeenAt) >= s.cfg.IdleTimeout
}

// session finds the session of a token's hash: from memory while the
// lease holds (kept), else from the store.
func (s *Service) session(ctx context.Context, hash [sha256.Size]byte) (sess domain.Session, kept bool, err error) {
	if s.sessions == nil || (s.bypass != nil && s.bypass()) {
		sess, err = s.store.SessionByTokenHash(ctx, hash[:])
		return sess, false, err
	}
	if sess, ok := s.sessions.Get(hash); ok && bytes.Equal(sess.TokenHash, hash[:]) {
		return sess, true, nil
	}
	sess, err = s.sessions.Load(hash, func() (domain.Session, error) { return s.store.SessionByTokenHash(ctx, hash[:]) },
		func(sess domain.Session) (string, string) { return "", sess.AccountID })
	return sess, true, err
}

// Logout ends the session p authenticated with.
func (s *Service) Logout(ctx context.Context, p authz.Principal) error {
	err := s.store.DeleteSession(ctx, p.AccountID, p.SessionID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// LogoutEverywhere ends every session of p's account.
func (s *Service) LogoutEverywhere(ctx context.Context, p authz.Principal) error {
	if err := s.store.DeleteAccountSessions(ctx, p.AccountID); err != nil {
		return fmt.Errorf("delete sessions: %w", err)
	}
	return nil
}

// SessionView is a session as its owner sees it.
type SessionView struct {
	ID         string    `json:"id"`
	Client     Client    `json:"client"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	Current    bool      `json:"current"`
}

// Sessions lists p's sessions, newest first.
func (s *Service) Sessions(ctx context.Context, p authz.Principal) ([]SessionView, error) {
	list, err := s.store.ListSessions(ctx, p.AccountID)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	out := make([]SessionView, 0, len(list))
	for i := len(list) - 1; i >= 0; i-- {
		sess := list[i]
		v := SessionView{ID: sess.ID, CreatedAt: sess.CreatedAt, LastSeenAt: sess.LastSeenAt, ExpiresAt: sess.ExpiresAt, Current: sess.ID == p.SessionID}
		if raw, err := s.keys.OpenPII(sess.ClientSealed, sessionClientAD(sess.ID)); err == nil {
			_ = json.Unmarshal(raw, &v.Client) // a session without client details still lists
		}
		out = append(out, v)
	}
	return out, nil
}

// EndSession ends one of p's own sessions; another account's session is
// not found.
func (s *Service) EndSession(ctx context.Context, p authz.Principal, sessionID string) error {
	err := s.store.DeleteSession(ctx, p.AccountID, sessionID)
	if errors.Is(err, store.ErrNotFound) {
		return apperr.NotFoundf("session")
	}
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// Account is an account as its owner sees it.
type Account struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

// Account returns the account with its email opened.
func (s *Service) Account(ctx context.Context, accountID string) (Account, error) {
	a, err := s.store.AccountByID(ctx, accountID)
	if errors.Is(err, store.ErrNotFound) {
		return Account{}, apperr.NotFoundf("account")
	}
	if err != nil {
		return Account{}, fmt.Errorf("read account: %w", err)
	}
	email, err := s.keys.OpenPII(a.EmailSealed, emailAD(a.ID))
	if err != nil {
		return Account{}, fmt.Errorf("open email of account %s: %w", a.ID, err)
	}
	return Account{ID: a.ID, Email: string(email)}, nil
}

// EmailIndex checks and normalizes an email and returns it with its blind
// index under the current master key generation: the index an account
// with that email has, now or once it signs up. It reads nothing, so it
// costs the same whether or not the account exists (sharing a home
// invites an email this way).
func (s *Service) EmailIndex(email string) (normalized string, index []byte, err error) {
	email, indexes, err := s.EmailIndexes(email)
	if err != nil {
		return "", nil, err
	}
	return email, indexes[0], nil
}

// EmailIndexes is EmailIndex under every master key generation, the
// current one first: what was indexed before a rotation finished
// rewriting it is found by one of them.
func (s *Service) EmailIndexes(email string) (normalized string, indexes [][]byte, err error) {
	email, err = NormalizeEmail(email)
	if err != nil {
		return "", nil, err
	}
	return email, s.emailIndexes(email), nil
}

// SweepSessions removes expired and idle sessions.
func (s *Service) SweepSessions(ctx context.Context) (int, error) {
	now := s.now()
	n, err := s.store.DeleteExpiredSessions(ctx, now, now.Add(-s.cfg.IdleTimeout))
	if err != nil {
		return 0, fmt.Errorf("sweep sessions: %w", err)
	}
	if _, err := s.store.DeleteExpiredChallenges(ctx, now); err != nil {
		return n, fmt.Errorf("sweep passkey challenges: %w", err)
	}
	return n, nil
}
