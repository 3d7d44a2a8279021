// Package store declares the interfaces a storage backend implements, one
// per kind of record (people.go: accounts and sessions; homes.go: homes,
// members, invitations and devices; events.go; records.go: audit, incidents, breakers and
// key checks; throttle.go). The records themselves are the domain package's.
// It knows nothing of SQL; backends live in subpackages (sqlite, postgres)
// and every one of them must pass the conformance suite in storetest.
//
// The store records facts; it never decides who may see what. Personal
// fields arrive here already sealed (the *Sealed fields) and lookups by them
// go through blind indexes, so a dump of any backend shows none of them
// (invariant 7).
//
// Each method that changes more than one row is one transaction inside the
// backend, so callers never see a half-done change.
package store

import (
	"context"
	"errors"
	"fmt"
)

// Errors every backend returns for the same situations.
var (
	ErrNotFound = errors.New("store: not found")
	ErrConflict = errors.New("store: conflict")
	// ErrUnavailable marks a failure of the backend itself: closed,
	// unreachable, out of disk, or any error it cannot name. Nothing was
	// decided about the records, so callers must not read it as "not
	// found"; the request may succeed later. Every error a backend returns
	// is ErrNotFound, ErrConflict, the caller's context ending, or wraps
	// ErrUnavailable.
	ErrUnavailable = errors.New("store: unavailable")
)

// Store is everything a backend provides.
type Store interface {
	Accounts
	Sessions
	Homes
	Invitations
	Devices
	Throttle
	Events
	Audit
	Incidents
	Breakers
	KeyChecks
	Rekeying
	Partners
	Changes
	Webhooks
	MQTTBrokers
	Passwords
	Outbox
	SecondFactors
	Deletion
	Exports
	Push
	// Ping checks the backend answers (for readiness).
	Ping(ctx context.Context) error
	Close() error
}

// NewerSchemaError is the error of a backend opened on a database whose
// schema a later release migrated: this binary's migrations stop at known.
// Migrations never run backwards, so the only ways on are the release that
// wrote the schema (or a later one) or a backup taken before the upgrade.
func NewerSchemaError(version, known int64) error {
	return fmt.Errorf("database schema version %d is newer than this binary's %d: "+
		"the data was written by a later camvault release; run that release or a later one "+
		"(or restore a backup taken before the upgrade)", version, known)
}
