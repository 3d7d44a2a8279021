package domain

import "time"

// ExportStatus is where a person's export of their data stands.
type ExportStatus string

// The export statuses: waiting for a worker, being written, ready to
// download until it expires, or failed.
const (
	ExportPending ExportStatus = "pending"
	ExportRunning ExportStatus = "running"
	ExportReady   ExportStatus = "ready"
	ExportFailed  ExportStatus = "failed"
)

// Export is a person's export of their data: a zip written in the
// background into one sealed blob, downloadable by its person until it
// expires.
type Export struct {
	ID        string
	AccountID string
	// HomeID is the one home exported; "" for every home the person owns.
	HomeID    string
	Status    ExportStatus
	CreatedAt time.Time
	// ClaimedUntil is when a worker's claim on a running export ends: after
	// it, another worker (on any node) may take the export again.
	ClaimedUntil time.Time
	ExpiresAt    time.Time
	BlobKey      string // "" until ready
	Size         int64  // bytes of the sealed blob
	// KeyWrapped is the export's own key, wrapped by the master key; the
	// blob is sealed under it.
	KeyWrapped []byte
}

// AccountDeletion is what deleting an account removed: the homes it owned
// alone (with every camera, event and invitation of theirs) and their
// cameras, whose connections must be closed.
type AccountDeletion struct {
	Homes   []string
	Devices []string
}
