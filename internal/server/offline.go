package server

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/camvault/camvault/internal/audit"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/keys"
	"github.com/camvault/camvault/internal/store"
)

// Offline is the data of a server opened for an operator's task (camvault
// admin), without listeners.
type Offline struct {
	Store store.Store
	Keys  *keys.Keyring
}

// OpenOffline opens an existing data directory, or the --store database
// beside it. It never creates a key.
func OpenOffline(ctx context.Context, cfg Config) (*Offline, error) {
	return openOffline(ctx, cfg, 0)
}

// openOffline is OpenOffline with checkKeys' exception.
func openOffline(ctx context.Context, cfg Config, except uint32) (*Offline, error) {
	// The data directory holds the database or the key file (or both)
	// unless both are elsewhere: say when it is not there, before a
	// missing key file is reported in its place.
	if cfg.embeddedStore() || (cfg.MasterKey == "" && cfg.KeyFile == "") {
		if err := checkDataDir(cfg.DataDir, nil); err != nil {
			return nil, err
		}
	}
	var kr *keys.Keyring
	var err error
	if cfg.MasterKey != "" {
		kr, err = keys.ParseKeys(cfg.MasterKey)
	} else {
		kr, err = keys.LoadFile(cfg.keyFile())
	}
	if err != nil {
		return nil, err
	}
	if cfg.embeddedStore() {
		if _, err := os.Stat(filepath.Join(cfg.DataDir, databaseFile)); err != nil {
			return nil, fmt.Errorf("no camvault data in %s: %w", cfg.DataDir, err)
		}
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if _, err := checkKeys(ctx, st, kr, except); err != nil {
		st.Close()
		return nil, err
	}
	return &Offline{Store: st, Keys: kr}, nil
}

// Close closes the store.
func (o *Offline) Close() error { return o.Store.Close() }

// VerifyAudit checks every home's audit chain and its head and writes
// what it found; with anchorPath, it also checks no chain went back from
// the anchors in that file (made by AuditHeads). It returns an error when
// anything is broken.
func (o *Offline) VerifyAudit(ctx context.Context, w io.Writer, anchorPath string) error {
	var anchors []audit.Anchor
	if anchorPath != "" {
		f, err := os.Open(anchorPath)
		if err != nil {
			return fmt.Errorf("--anchor: %w", err)
		}
		anchors, err = audit.ReadAnchors(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("--anchor %s: %w", anchorPath, err)
		}
	}
	log := audit.New(o.Store, o.Keys, nil)
	n, problems, err := log.Verify(ctx)
	if err != nil {
		return err
	}
	if anchorPath != "" {
		behind, err := log.CheckAnchors(ctx, anchors)
		if err != nil {
			return err
		}
		problems = append(problems, behind...)
	}
	for _, p := range problems {
		fmt.Fprintln(w, "BROKEN:", p)
	}
	if len(problems) > 0 {
		return fmt.Errorf("audit log: %d problems in %d entries", len(problems), n)
	}
	fmt.Fprintf(w, "audit log intact: %d entries verified\n", n)
	if anchorPath != "" {
		fmt.Fprintf(w, "no chain went back from the %d anchored in %s\n", len(anchors), anchorPath)
	}
	return nil
}

// AuditHeads writes the anchor file of every chain's head to w, for the
// operator to keep outside the database. It refuses (writing nothing to w)
// while a chain does not end at its head: an anchor must not vouch for a
// chain already cut short.
func (o *Offline) AuditHeads(ctx context.Context, w, errw io.Writer) error {
	anchors, problems, err := audit.New(o.Store, o.Keys, nil).Anchors(ctx)
	if err != nil {
		return err
	}
	for _, p := range problems {
		fmt.Fprintln(errw, "BROKEN:", p)
	}
	if len(problems) > 0 {
		return fmt.Errorf("audit log: %d chains do not end at their heads; no anchors written (run camvault admin audit verify)", len(problems))
	}
	return audit.WriteAnchors(w, anchors, time.Now())
}

// Incidents writes the most recent incidents: who would have received
// what, enough to notify the households concerned.
func (o *Offline) Incidents(ctx context.Context, w io.Writer, limit int) error {
	list, err := o.Store.ListIncidents(ctx, limit)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintln(w, "no incidents")
		return nil
	}
	for _, in := range list {
		at := in.At.Format("2006-01-02T15:04:05Z")
		switch in.Kind {
		case domain.IncidentCacheMismatch:
			// Nothing was sent: the entry did not open, so whose it was is
			// unknown and only the requester's own household is concerned.
			fmt.Fprintf(w, "%s %s: %s %s asked for home %s, event %s; a cache entry was refused, nothing of it was used or sent. %s\n",
				at, in.Kind, in.RequesterKind, in.RequesterID, orNone(in.RequestedHome), orNone(in.RequestedEvent), in.Detail)
		case domain.IncidentBreakerOpen:
			fmt.Fprintf(w, "%s %s: %s\n", at, in.Kind, in.Detail)
		default:
			fmt.Fprintf(w, "%s %s: %s %s asked for event %s of home %s; withheld media of home %s, camera %s, event %s (%s). %s\n",
				at, in.Kind, in.RequesterKind, in.RequesterID, in.RequestedEvent,
				in.RequestedHome, in.LabelHome, in.LabelDevice, in.LabelEvent, in.LabelKind, in.Detail)
		}
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
