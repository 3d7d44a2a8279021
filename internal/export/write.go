package export

import (
	"archive/zip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/camvault/camvault/internal/audit"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/id"
	"github.com/camvault/camvault/internal/keys"
	"github.com/camvault/camvault/internal/media"
	"github.com/camvault/camvault/internal/store"
)

// pageSize is how many events one read of the store takes.
const pageSize = 200

// Manifest is manifest.json, the zip's first entry: the person's account
// and the homes exported with their cameras. Each home's events are in
// its own file (EventsFile), one JSON object a line, written page by page
// so that no list of every event is held in memory.
type Manifest struct {
	Format     string         `json:"format"`
	ExportedAt time.Time      `json:"exported_at"`
	Account    ManifestPerson `json:"account"`
	Homes      []ManifestHome `json:"homes"`
}

// ManifestPerson is the person's account.
type ManifestPerson struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	CreatedAt time.Time `json:"created_at"`
}

// ManifestHome is one home exported.
type ManifestHome struct {
	ID            string           `json:"id"`
	Name          string           `json:"name"`
	Role          domain.Role      `json:"role"`
	RetentionDays int              `json:"retention_days"`
	CreatedAt     time.Time        `json:"created_at"`
	Cameras       []ManifestCamera `json:"cameras"`
	EventsFile    string           `json:"events_file"`
}

// ManifestCamera is one camera of a home.
type ManifestCamera struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Model     string    `json:"model"`
	Firmware  string    `json:"firmware"`
	CreatedAt time.Time `json:"created_at"`
}

// ManifestEvent is one line of a home's events file; the media paths name
// entries of the zip.
type ManifestEvent struct {
	ID        string           `json:"id"`
	CameraID  string           `json:"camera_id"`
	Kind      domain.EventKind `json:"kind"`
	StartedAt time.Time        `json:"started_at"`
	Thumbnail string           `json:"thumbnail"`
	Clip      string           `json:"clip,omitempty"`
}

// ManifestFormat names the layout of the zip.
const ManifestFormat = "camvault-export/v1"

// write writes one claimed export into its blob and records the outcome.
func (s *Service) write(ctx context.Context, x domain.Export) {
	// The claim is the bound: past it another worker may take the export.
	ctx, cancel := context.WithDeadline(ctx, x.ClaimedUntil.Add(-time.Minute))
	defer cancel()
	err := s.writeBlob(ctx, &x)
	if err != nil {
		s.log.WarnContext(ctx, "writing an export failed", "export", x.ID, "err", err)
		x.Status, x.BlobKey, x.Size, x.KeyWrapped = domain.ExportFailed, "", 0, nil
	} else {
		x.Status = domain.ExportReady
	}
	// Recorded even when ctx ended (the server stopping): a failed export
	// is told as such rather than left running until its claim ends.
	fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer fcancel()
	if err := s.store.FinishExport(fctx, x); err != nil {
		s.log.WarnContext(ctx, "recording an export's end", "export", x.ID, "err", err)
	}
	s.mu.Lock()
	s.done++
	s.mu.Unlock()
}

// writeBlob writes the zip of x through a fresh key into a new blob,
// queued for removal once the claim ends: a worker that dies leaves
// nothing behind for long, and FinishExport takes a finished blob out of
// the queue.
func (s *Service) writeBlob(ctx context.Context, x *domain.Export) error {
	dk, err := keys.NewDataKey()
	if err != nil {
		return err
	}
	key := "x/" + x.ID + "/" + id.New()
	if err := s.store.QueueBlobRemoval(ctx, key, s.now(), x.ClaimedUntil); err != nil {
		return err
	}
	pr, pw := io.Pipe()
	wrote := make(chan struct{})
	go func() { // owned here: waited for below
		defer close(wrote)
		pw.CloseWithError(s.writeZip(ctx, *x, pw))
	}()
	n, err := s.blobs.Put(ctx, key, media.Seal(dk, label(*x), pr))
	pr.CloseWithError(errors.New("export blob stopped")) // the writer, if still writing, stops
	<-wrote
	if err != nil {
		return fmt.Errorf("store export: %w", err)
	}
	x.BlobKey, x.Size, x.KeyWrapped = key, n, s.keys.WrapExportKey(dk, x.ID)
	return nil
}

// writeZip writes the export's zip to w.
func (s *Service) writeZip(ctx context.Context, x domain.Export, w io.Writer) error {
	a, err := s.store.AccountByID(ctx, x.AccountID)
	if err != nil {
		return fmt.Errorf("read account: %w", err)
	}
	email, err := s.keys.OpenPII(a.EmailSealed, keys.AD("account-email", a.ID))
	if err != nil {
		return fmt.Errorf("open email: %w", err)
	}
	homes, err := s.homesOf(ctx, x)
	if err != nil {
		return err
	}
	m := Manifest{Format: ManifestFormat, ExportedAt: s.now(),
		Account: ManifestPerson{ID: a.ID, Email: string(email), CreatedAt: a.CreatedAt.UTC()}}
	dks := map[string]keys.DataKey{}
	for _, ms := range homes {
		h := ms.Home
		dk, err := s.keys.UnwrapDataKey(h.WrappedDataKey, h.ID)
		if err != nil {
			return fmt.Errorf("unwrap data key of home %s: %w", h.ID, err)
		}
		dks[h.ID] = dk
		name, err := dk.Open(h.NameSealed, keys.AD("home-name", h.ID))
		if err != nil {
			return fmt.Errorf("open name of home %s: %w", h.ID, err)
		}
		devs, err := s.store.ListDevices(ctx, h.ID)
		if err != nil {
			return fmt.Errorf("list cameras: %w", err)
		}
		mh := ManifestHome{ID: h.ID, Name: string(name), Role: ms.Member.Role, RetentionDays: h.RetentionDays,
			CreatedAt: h.CreatedAt.UTC(), Cameras: []ManifestCamera{}, EventsFile: "homes/" + h.ID + "/events.jsonl"}
		for _, d := range devs {
			c := ManifestCamera{ID: d.ID, Model: d.Model, Firmware: d.Firmware, CreatedAt: d.CreatedAt.UTC()}
			if len(d.NameSealed) > 0 {
				n, err := dk.Open(d.NameSealed, keys.AD("device-name", h.ID, d.ID))
				if err != nil {
					return fmt.Errorf("open name of camera %s: %w", d.ID, err)
				}
				c.Name = string(n)
			}
			mh.Cameras = append(mh.Cameras, c)
		}
		m.Homes = append(m.Homes, mh)
	}
	zw := zip.NewWriter(w)
	if err := writeJSON(zw, "manifest.json", m); err != nil {
		return err
	}
	for _, mh := range m.Homes {
		if err := s.record(ctx, x, mh.ID); err != nil {
			return err
		}
		if err := s.writeEvents(ctx, zw, mh); err != nil {
			return err
		}
		if err := s.writeMedia(ctx, zw, mh.ID, dks[mh.ID]); err != nil {
			return err
		}
	}
	return zw.Close()
}

// homesOf are the homes x covers, as its person's memberships: every home
// they own, or the one named, which they must still own or administer.
func (s *Service) homesOf(ctx context.Context, x domain.Export) ([]domain.Membership, error) {
	if x.HomeID != "" {
		m, err := s.store.Member(ctx, x.HomeID, x.AccountID)
		if err != nil {
			return nil, fmt.Errorf("membership of the home exported: %w", err)
		}
		if m.Member.Role != domain.RoleOwner && m.Member.Role != domain.RoleAdmin {
			return nil, fmt.Errorf("no longer an owner or admin of home %s", x.HomeID)
		}
		return []domain.Membership{m}, nil
	}
	all, err := s.store.Memberships(ctx, x.AccountID)
	if err != nil {
		return nil, fmt.Errorf("memberships: %w", err)
	}
	var out []domain.Membership
	for _, m := range all {
		if m.Member.Role == domain.RoleOwner {
			out = append(out, m)
		}
	}
	return out, nil
}

func (s *Service) record(ctx context.Context, x domain.Export, homeID string) error {
	if err := s.audit.Record(ctx, homeID, audit.Entry{ActorKind: domain.PrincipalPerson, ActorID: x.AccountID,
		Action: AuditExport, Result: audit.ResultOK}); err != nil {
		return fmt.Errorf("audit export: %w", err)
	}
	return nil
}

func writeJSON(zw *zip.Writer, name string, v any) error {
	f, err := zw.Create(name)
	if err != nil {
		return fmt.Errorf("zip %s: %w", name, err)
	}
	enc := json.NewEncoder(f)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// pages calls fn with each page of a home's live events, newest first.
func (s *Service) pages(ctx context.Context, homeID string, fn func([]domain.Event) error) error {
	q := store.EventQuery{Scopes: []store.EventScope{{HomeID: homeID}}, Limit: pageSize}
	for {
		list, err := s.store.ListEvents(ctx, q)
		if err != nil {
			return fmt.Errorf("list events: %w", err)
		}
		if err := fn(list); err != nil {
			return err
		}
		if len(list) < pageSize {
			return nil
		}
		last := list[len(list)-1]
		q.BeforeTime, q.BeforeID = last.StartedAt, last.ID
	}
}

func mediaPath(homeID, eventID string, kind media.Kind) string {
	ext := ".jpg"
	if kind == media.KindClip {
		ext = ".mp4"
	}
	return "homes/" + homeID + "/media/" + eventID + "-" + string(kind) + ext
}

func (s *Service) writeEvents(ctx context.Context, zw *zip.Writer, mh ManifestHome) error {
	f, err := zw.Create(mh.EventsFile)
	if err != nil {
		return fmt.Errorf("zip events: %w", err)
	}
	enc := json.NewEncoder(f)
	return s.pages(ctx, mh.ID, func(list []domain.Event) error {
		for _, e := range list {
			me := ManifestEvent{ID: e.ID, CameraID: e.DeviceID, Kind: e.Kind, StartedAt: e.StartedAt.UTC(),
				Thumbnail: mediaPath(mh.ID, e.ID, media.KindThumbnail)}
			if e.ClipKey != "" {
				me.Clip = mediaPath(mh.ID, e.ID, media.KindClip)
			}
			if err := enc.Encode(me); err != nil {
				return err
			}
		}
		return nil
	})
}

// writeMedia writes every thumbnail and clip of a home, opened. Each blob
// must open under the home's key with the label of its own event (the
// label is authenticated): anything else stops the export.
func (s *Service) writeMedia(ctx context.Context, zw *zip.Writer, homeID string, dk keys.DataKey) error {
	return s.pages(ctx, homeID, func(list []domain.Event) error {
		for _, e := range list {
			if err := s.writeBlobEntry(ctx, zw, e, e.ThumbKey, media.KindThumbnail, dk); err != nil {
				return err
			}
			if e.ClipKey != "" {
				if err := s.writeBlobEntry(ctx, zw, e, e.ClipKey, media.KindClip, dk); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

func (s *Service) writeBlobEntry(ctx context.Context, zw *zip.Writer, e domain.Event, key string, kind media.Kind, dk keys.DataKey) error {
	obj, err := s.blobs.Open(ctx, key)
	if err != nil {
		return fmt.Errorf("open %s of event %s: %w", kind, e.ID, err)
	}
	defer obj.Close()
	b, err := media.Open(obj, obj.Size(), func(home string) (keys.DataKey, error) {
		if home != e.HomeID {
			return keys.DataKey{}, media.ErrCorrupt
		}
		return dk, nil
	})
	if err != nil {
		return fmt.Errorf("open %s of event %s: %w", kind, e.ID, err)
	}
	if b.Label != (media.Label{Home: e.HomeID, Device: e.DeviceID, Event: e.ID, Kind: kind}) {
		return fmt.Errorf("%s of event %s is labelled for another event", kind, e.ID)
	}
	// Media is compressed already: stored, not deflated again.
	f, err := zw.CreateHeader(&zip.FileHeader{Name: mediaPath(e.HomeID, e.ID, kind), Method: zip.Store, Modified: e.StartedAt})
	if err != nil {
		return fmt.Errorf("zip %s: %w", kind, err)
	}
	if _, err := io.Copy(f, io.NewSectionReader(b, 0, b.Size())); err != nil {
		return fmt.Errorf("copy %s of event %s: %w", kind, e.ID, err)
	}
	return nil
}
