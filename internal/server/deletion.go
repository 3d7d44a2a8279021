package server

import (
	"log/slog"

	"github.com/camvault/camvault/internal/audit"
	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/blob"
	"github.com/camvault/camvault/internal/export"
	"github.com/camvault/camvault/internal/homes"
	"github.com/camvault/camvault/internal/keys"
	"github.com/camvault/camvault/internal/lease"
	"github.com/camvault/camvault/internal/removal"
	"github.com/camvault/camvault/internal/store"
)

// deletionParts are the services of deleting accounts and exporting
// people's data (docs/design/deletion.md).
type deletionParts struct {
	deletion *homes.Deletion
	exports  *export.Service
	remover  *removal.Remover
	keys     *keys.Keyring
}

// openDeletion wires account deletion, exports and the background removal
// of deleted blobs. Every node drops what it holds in memory of a home
// (its unwrapped data key, its opened thumbnails) when it reads a change
// of that home in the change log: a deleted home's key leaves the memory
// of every node before the deletion is acknowledged (the deleting store
// call propagates its change first).
func (a *App) openDeletion(st store.Store, blobs blob.Store, kr *keys.Keyring, d *authz.Decider, auditLog *audit.Log,
	ln *lease.Node, opts Options, log *slog.Logger) deletionParts {
	forget := func(homeID string) {
		kr.ForgetHome(homeID)
		a.events.ForgetHome(homeID)
	}
	ln.OnHomeChange(forget)
	remover := removal.New(st, blobs, log, opts.Events.SweepInterval, opts.Events.Now)
	exports := export.New(st, blobs, kr, d, auditLog, log, opts.Export)
	exports.OnRemoval(remover.Wake)
	return deletionParts{
		deletion: homes.NewDeletion(a.homes, st, a.identity, forget, remover.Wake, log),
		exports:  exports,
		remover:  remover,
		keys:     kr,
	}
}
