package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/keys"
	"github.com/camvault/camvault/internal/rekey"
)

// The master key rotation commands (camvault admin keys): each works on
// the key file and the store with every server stopped (the embedded
// default's data directory lock says so; nodes on PostgreSQL must be
// stopped by the operator), since a running server keeps the key file it
// started with. See docs/design/keys.md, "Rotation".

// KeyOptions tune a rotation; the zero value is what the command uses.
type KeyOptions = rekey.Options

// openForKeys checks the configuration can be rotated (a key file, not
// the environment), takes the data directory's lock when the store is the
// embedded one, and opens the data. release undoes both.
func openForKeys(ctx context.Context, cfg Config, except uint32) (o *Offline, release func(), err error) {
	if cfg.MasterKey != "" {
		return nil, nil, errors.New("the master key comes from CAMVAULT_MASTER_KEY, which camvault cannot rewrite: " +
			"put its content in a file (mode 0600), run this with --key-file FILE and without CAMVAULT_MASTER_KEY, " +
			"then give every node the file's new content")
	}
	var lock *dirLock
	if cfg.embeddedStore() {
		if err := checkDataDir(cfg.DataDir, nil); err != nil {
			return nil, nil, err
		}
		if lock, err = lockDataDir(cfg.DataDir); err != nil {
			return nil, nil, err
		}
	}
	o, err = openOffline(ctx, cfg, except)
	if err != nil {
		if lock != nil {
			lock.release()
		}
		return nil, nil, err
	}
	return o, func() {
		o.Close()
		if lock != nil {
			lock.release()
		}
	}, nil
}

// RotateKeys adds a master key generation to the key file and rewrites
// the stored data under it. If a rotation was stopped before it finished
// (values of an older generation are still stored), it finishes that one
// instead of adding another: running it again is always safe.
func RotateKeys(ctx context.Context, cfg Config, opts KeyOptions, w io.Writer) error {
	o, release, err := openForKeys(ctx, cfg, 0)
	if err != nil {
		return err
	}
	defer release()
	use, err := o.Store.KeyUse(ctx)
	if err != nil {
		return err
	}
	kr := o.Keys
	if rekey.Pending(use, kr.Current()) {
		fmt.Fprintf(w, "finishing the rotation to master key generation %d (values of older generations are still stored)\n", kr.Current())
	} else {
		gens, err := o.Store.KeyGenerations(ctx)
		if err != nil {
			return err
		}
		next := kr.Current() + 1
		for _, g := range gens {
			next = max(next, g.Generation+1)
		}
		if kr, err = keys.AddGeneration(cfg.keyFile(), next); err != nil {
			return err
		}
		// Recorded before anything is written under it: a node started
		// with the old key file is refused from now on.
		if _, err := checkKeys(ctx, o.Store, kr, 0); err != nil {
			return err
		}
		fmt.Fprintf(w, "added master key generation %d to %s; back the file up now, apart from the data\n", next, cfg.keyFile())
	}
	progress := opts.Progress
	opts.Progress = func(what string, n int) error {
		if n > 0 {
			fmt.Fprintf(w, "%s: %d rewritten\n", what, n)
		}
		if progress != nil {
			return progress(what, n)
		}
		return nil
	}
	res, err := rekey.Run(ctx, o.Store, kr, opts)
	if err != nil {
		return fmt.Errorf("rotation to generation %d stopped (run it again to finish): %w", kr.Current(), err)
	}
	for _, p := range res.Heads {
		fmt.Fprintln(w, "BROKEN:", p, "(left as it was)")
	}
	if len(res.Replaced) > 0 {
		fmt.Fprintf(w, "removed invitations %s: the same email was invited to the same home again since\n", strings.Join(res.Replaced, ", "))
	}
	if len(res.Conflicts) > 0 {
		return fmt.Errorf("accounts %s have the email of another account, indexed under an older generation: "+
			"their indexes were left as they were; decide which account to keep", strings.Join(res.Conflicts, ", "))
	}
	fmt.Fprintf(w, "every home data key, personal field and email index (accounts' and invitations') is under generation %d; "+
		"restart the servers with the new key file\n", kr.Current())
	return o.writeKeyStatus(ctx, w, kr)
}

// RetireKeys takes generation gen's key out of the key file once nothing
// needs it: every value is under a newer generation (camvault admin keys
// rotate did it). Audit entries made under gen keep needing its audit key
// to verify, so its line then holds that key alone; with no such entries
// it goes. The store records the retirement first, then the file is
// rewritten: stopped between the two, it leaves a retired generation
// whole in the file, which servers accept (and warn about), and running
// it again finishes.
func RetireKeys(ctx context.Context, cfg Config, gen uint32, w io.Writer) error {
	o, release, err := openForKeys(ctx, cfg, gen)
	if err != nil {
		return err
	}
	defer release()
	kr := o.Keys
	if gen == kr.Current() {
		return fmt.Errorf("generation %d is the current one: camvault admin keys rotate adds a newer one first", gen)
	}
	gens, err := o.Store.KeyGenerations(ctx)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(gens, func(g domain.KeyGeneration) bool { return g.Generation == gen }) {
		return fmt.Errorf("the store has no master key generation %d", gen)
	}
	use, err := o.Store.KeyUse(ctx)
	if err != nil {
		return err
	}
	if needs := rekey.Needs(use, gen); len(needs) > 0 {
		return fmt.Errorf("generation %d is still needed by %s: run camvault admin keys rotate to finish rewriting them, then retire it",
			gen, strings.Join(needs, ", "))
	}
	keepAudit := rekey.AuditNeeds(use, gen)
	check, haveAudit := kr.AuditCheck(gen)
	if keepAudit && !haveAudit {
		return fmt.Errorf("audit entries made under generation %d verify only with its audit key, which the key file lacks: restore its line first", gen)
	}
	if err := o.Store.RetireKeyGeneration(ctx, gen, check); err != nil {
		return err
	}
	if kr, err = keys.RetireGeneration(cfg.keyFile(), gen, keepAudit); err != nil {
		return err
	}
	if keepAudit {
		fmt.Fprintf(w, "retired master key generation %d: %s keeps its audit key only, to verify the audit entries made under it\n", gen, cfg.keyFile())
	} else {
		fmt.Fprintf(w, "retired master key generation %d and took it out of %s\n", gen, cfg.keyFile())
	}
	fmt.Fprintln(w, "give every node the new key file; keep the old one only as long as backups made before the rotation (they need it)")
	return o.writeKeyStatus(ctx, w, kr)
}

// KeyStatus writes, for each master key generation, whether the key file
// holds it and what stored values were made under it.
func (o *Offline) KeyStatus(ctx context.Context, w io.Writer) error {
	return o.writeKeyStatus(ctx, w, o.Keys)
}

func (o *Offline) writeKeyStatus(ctx context.Context, w io.Writer, kr *keys.Keyring) error {
	gens, err := o.Store.KeyGenerations(ctx)
	if err != nil {
		return err
	}
	use, err := o.Store.KeyUse(ctx)
	if err != nil {
		return err
	}
	retired := map[uint32]bool{}
	all := map[uint32]bool{}
	for _, g := range gens {
		retired[g.Generation], all[g.Generation] = g.Retired, true
	}
	for _, m := range []map[uint32]int64{use.DataKeys, use.Emails, use.SessionClients, use.TOTPSecrets, use.PushEndpoints, use.ServerSecrets, use.EmailIndexes, use.Invitations, use.AuditEntries, use.AuditHeads} {
		for gen := range m {
			all[gen] = true
		}
	}
	for _, gen := range kr.AuditGenerations() {
		all[gen] = true
	}
	for _, gen := range slices.Sorted(maps.Keys(all)) {
		var state string
		switch {
		case gen == 0:
			state = "no recorded generation (written by an earlier release)"
		case gen == kr.Current():
			state = "current"
		case slices.Contains(kr.IDs(), gen) && retired[gen]:
			state = "retired, still whole in the key file"
		case slices.Contains(kr.IDs(), gen):
			state = "in the key file"
		case slices.Contains(kr.AuditOnly(), gen):
			state = "retired, audit key only"
		case retired[gen]:
			state = "retired, not in the key file"
		default:
			state = "NOT in the key file"
		}
		fmt.Fprintf(w, "generation %d: %s; home data keys %d, sealed emails %d, email indexes %d, session client details %d, TOTP secrets %d, invitations %d, push endpoints %d, server secrets %d, audit entries %d, audit heads %d\n",
			gen, state, use.DataKeys[gen], use.Emails[gen], use.EmailIndexes[gen], use.SessionClients[gen], use.TOTPSecrets[gen], use.Invitations[gen],
			use.PushEndpoints[gen], use.ServerSecrets[gen], use.AuditEntries[gen], use.AuditHeads[gen])
	}
	return nil
}
