// Package rekey rewrites stored data under the current master key
// generation (docs/design/keys.md, "Rotation"): every home's data key is
// wrapped again, personal fields are sealed again, email blind indexes are
// computed again and audit heads are signed again. It reads in pages and
// writes each page back only where a value is still what was read, so it
// may be stopped at any point and run again, and it says what each
// generation is still needed for, so that an old one is retired only when
// nothing needs it.
package rekey

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/camvault/camvault/internal/audit"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/homes"
	"github.com/camvault/camvault/internal/identity"
	"github.com/camvault/camvault/internal/keys"
	"github.com/camvault/camvault/internal/push"
	"github.com/camvault/camvault/internal/store"
)

// Store is what a rotation reads and rewrites.
type Store interface {
	store.Rekeying
	audit.Store
	HomeByID(ctx context.Context, id string) (domain.Home, error)
}

// Options tune a run.
type Options struct {
	// Page is how many values are read and written back at once (500
	// when zero).
	Page int
	// Progress, if set, is told after each page written back: what kind
	// of value and how many of them changed. An error it returns stops the
	// run (the pages before it stay done).
	Progress func(what string, changed int) error
}

// Result is what a run rewrote, and what it could not.
type Result struct {
	DataKeys, Emails, SessionClients, TOTPSecrets, PushEndpoints, ServerSecrets, EmailIndexes, Invitations, AuditHeads int
	// Replaced lists invitations removed because the same email was
	// invited to the same home again while their index was current.
	Replaced []string
	// Conflicts lists accounts whose email index under the current
	// generation another account already holds: two accounts of one
	// email, made while a second generation broke lookups. An operator
	// decides which to keep; until then both keep their old index.
	Conflicts []string
	// Heads lists audit heads that do not verify, left as they were.
	Heads []audit.Problem
}

// Run rewrites everything made under another generation than the
// keyring's current one.
func Run(ctx context.Context, st Store, kr *keys.Keyring, opts Options) (Result, error) {
	if opts.Page <= 0 {
		opts.Page = 500
	}
	progress := func(what string, n int) error {
		if opts.Progress == nil {
			return nil
		}
		return opts.Progress(what, n)
	}
	var res Result
	for _, c := range []struct {
		col    store.SealedColumn
		count  *int
		reseal func(id string, sealed []byte) ([]byte, bool, error)
	}{
		{store.HomeDataKeys, &res.DataKeys, func(id string, v []byte) ([]byte, bool, error) { return kr.RewrapDataKey(v, id) }},
		{store.AccountEmails, &res.Emails, func(id string, v []byte) ([]byte, bool, error) { return identity.ResealEmail(kr, id, v) }},
		{store.SessionClients, &res.SessionClients, func(id string, v []byte) ([]byte, bool, error) {
			return identity.ResealSessionClient(kr, id, v)
		}},
		{store.TOTPSecrets, &res.TOTPSecrets, func(id string, v []byte) ([]byte, bool, error) { return identity.ResealTOTPSecret(kr, id, v) }},
		{store.PushEndpoints, &res.PushEndpoints, func(id string, v []byte) ([]byte, bool, error) { return push.ResealEndpoint(kr, id, v) }},
		{store.ServerSecrets, &res.ServerSecrets, func(name string, v []byte) ([]byte, bool, error) { return push.ResealSecret(kr, name, v) }},
	} {
		n, err := resealColumn(ctx, st, c.col, opts.Page, c.reseal, progress)
		*c.count = n
		if err != nil {
			return res, err
		}
	}
	if err := reindexEmails(ctx, st, kr, opts.Page, &res, progress); err != nil {
		return res, err
	}
	if err := reindexInvitations(ctx, st, kr, opts.Page, &res, progress); err != nil {
		return res, err
	}
	use, err := st.KeyUse(ctx)
	if err != nil {
		return res, err
	}
	resigned, problems, err := audit.New(st, kr, nil).ResignHeads(ctx, slices.Sorted(maps.Keys(use.AuditHeads)), opts.Page)
	res.AuditHeads, res.Heads = resigned, problems
	if err != nil {
		return res, err
	}
	return res, progress("audit heads", resigned)
}

func resealColumn(ctx context.Context, st Store, col store.SealedColumn, page int,
	reseal func(id string, sealed []byte) ([]byte, bool, error), progress func(string, int) error) (int, error) {
	total, after := 0, ""
	for {
		values, err := st.SealedValues(ctx, col, after, page)
		if err != nil {
			return total, fmt.Errorf("read %s: %w", col, err)
		}
		if len(values) == 0 {
			return total, nil
		}
		var changes []store.Reseal
		for _, v := range values {
			after = v.ID
			sealed, changed, err := reseal(v.ID, v.Value)
			if err != nil {
				return total, fmt.Errorf("%s of %s: %w", col, v.ID, err)
			}
			if changed {
				changes = append(changes, store.Reseal{ID: v.ID, Old: v.Value, New: sealed})
			}
		}
		n, err := st.Reseal(ctx, col, changes)
		total += n
		if err != nil {
			return total, fmt.Errorf("write %s: %w", col, err)
		}
		if err := progress(string(col), n); err != nil {
			return total, err
		}
	}
}

func reindexEmails(ctx context.Context, st Store, kr *keys.Keyring, page int, res *Result, progress func(string, int) error) error {
	after := ""
	for {
		accounts, err := st.AccountsAfter(ctx, after, page)
		if err != nil {
			return fmt.Errorf("read accounts: %w", err)
		}
		if len(accounts) == 0 {
			return nil
		}
		var changes []store.EmailReindex
		for _, a := range accounts {
			after = a.ID
			if a.EmailGen == kr.Current() {
				continue
			}
			index, err := identity.EmailIndex(kr, a)
			if err != nil {
				return err
			}
			changes = append(changes, store.EmailReindex{ID: a.ID, Old: a.EmailIndex, New: index, Gen: kr.Current()})
		}
		n, conflicts, err := st.ReindexEmails(ctx, changes)
		res.EmailIndexes += n
		res.Conflicts = append(res.Conflicts, conflicts...)
		if err != nil {
			return fmt.Errorf("write email indexes: %w", err)
		}
		if err := progress("email indexes", n); err != nil {
			return err
		}
	}
}

func reindexInvitations(ctx context.Context, st Store, kr *keys.Keyring, page int, res *Result, progress func(string, int) error) error {
	after := ""
	byID := map[string]domain.Home{}
	for {
		invitations, err := st.InvitationsAfter(ctx, after, page)
		if err != nil {
			return fmt.Errorf("read invitations: %w", err)
		}
		if len(invitations) == 0 {
			return nil
		}
		var changes []store.EmailReindex
		for _, inv := range invitations {
			after = inv.ID
			if inv.EmailGen == kr.Current() {
				continue
			}
			h, ok := byID[inv.HomeID]
			if !ok {
				if h, err = st.HomeByID(ctx, inv.HomeID); err != nil {
					return fmt.Errorf("home of invitation %s: %w", inv.ID, err)
				}
				byID[inv.HomeID] = h
			}
			email, err := homes.InvitationEmail(kr, h, inv)
			if err != nil {
				return err
			}
			changes = append(changes, store.EmailReindex{ID: inv.ID, Old: inv.EmailIndex, New: identity.IndexEmail(kr, email), Gen: kr.Current()})
		}
		clear(byID) // a page's homes, not every home's
		n, replaced, err := st.ReindexInvitations(ctx, changes)
		res.Invitations += n
		res.Replaced = append(res.Replaced, replaced...)
		if err != nil {
			return fmt.Errorf("write invitation email indexes: %w", err)
		}
		if err := progress("invitations", n); err != nil {
			return err
		}
	}
}

// Pending reports whether values made under another generation than
// current are still stored (a rotation to current not finished): data
// keys, personal fields, and email indexes of a known other generation.
func Pending(use domain.KeyUse, current uint32) bool {
	for _, m := range []map[uint32]int64{use.DataKeys, use.Emails, use.SessionClients, use.TOTPSecrets, use.PushEndpoints, use.ServerSecrets, use.EmailIndexes, use.Invitations} {
		for gen, n := range m {
			if n > 0 && gen != current && gen != 0 {
				return true
			}
		}
	}
	return false
}

// Needs lists, for generation gen, the stored values that need its key:
// everything but audit entries, which its audit key alone verifies. Email
// indexes of no recorded generation (from before they were recorded)
// count too: they may be gen's.
func Needs(use domain.KeyUse, gen uint32) []string {
	var out []string
	for _, c := range []struct {
		what string
		n    int64
	}{
		{"home data keys", use.DataKeys[gen]},
		{"sealed emails", use.Emails[gen]},
		{"session client details", use.SessionClients[gen]},
		{"TOTP secrets", use.TOTPSecrets[gen]},
		{"push endpoints", use.PushEndpoints[gen]},
		{"server secrets", use.ServerSecrets[gen]},
		{"email indexes", use.EmailIndexes[gen]},
		{"email indexes of no recorded generation", use.EmailIndexes[0]},
		{"invitations", use.Invitations[gen]},
		{"invitations of no recorded generation", use.Invitations[0]},
		{"audit heads", use.AuditHeads[gen]},
	} {
		if c.n > 0 {
			out = append(out, fmt.Sprintf("%d %s", c.n, c.what))
		}
	}
	return out
}

// AuditNeeds reports whether audit entries may need gen's audit key to be
// verified: entries made under it, or entries of no recorded generation.
func AuditNeeds(use domain.KeyUse, gen uint32) bool {
	return use.AuditEntries[gen] > 0 || use.AuditEntries[0] > 0
}
