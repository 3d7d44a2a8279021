package events

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/camvault/camvault/internal/authz"
	"github.com/camvault/camvault/internal/blob"
	"github.com/camvault/camvault/internal/cache"
	"github.com/camvault/camvault/internal/domain"
	"github.com/camvault/camvault/internal/keys"
	"github.com/camvault/camvault/internal/media"
)

// Cache is where the service keeps thumbnails; *cache.Cache is one.
type Cache interface {
	Get(ctx context.Context, key cache.Key, tenant string) (value []byte, version uint64, hit bool, err error)
	Put(ctx context.Context, key cache.Key, tenant string, version uint64, value []byte) error
}

// KindThumbnail is the cache entry of an event's thumbnail: tenant the
// home, parts the camera and the event.
const KindThumbnail cache.EntryKind = "thumbnail"

// LabelMismatch fills in, for an incident about a refused cache entry, what
// was asked for when the key is a thumbnail's: the home and the event. It
// reports whether the key was a thumbnail's.
func LabelMismatch(m cache.Mismatch, in *domain.Incident) bool {
	if m.Key.Kind() != KindThumbnail {
		return false
	}
	in.RequestedHome = m.Tenant
	if parts := m.Key.Parts(); len(parts) == 2 {
		in.RequestedEvent = parts[1]
	}
	return true
}

// maxCachedThumbnail bounds what is read whole into memory to be cached.
const maxCachedThumbnail = 2 << 20

// WithCache makes the service keep thumbnails in c, still sealed as the
// blob store holds them: a cached thumbnail opens only with its home's data
// key and carries its label to media.Guard, like one read from the blob
// store. The event record is read from the store on every request, so a
// deleted event is never served from the cache. While bypass reports true
// (the breaker is open) the cache is not used. Call it before serving.
func (s *Service) WithCache(c Cache, bypass func() bool) *Service {
	s.cache, s.bypass = c, bypass
	return s
}

func (s *Service) bypassed() bool { return s.bypass != nil && s.bypass() }

func (s *Service) caching() bool { return s.cache != nil && !s.bypassed() }

// openThumbnail opens an event's thumbnail: already opened, from this
// node's memory; else sealed, from the cache or the blob store (filling
// the cache), then kept opened.
func (s *Service) openThumbnail(ctx context.Context, p authz.Principal, e domain.Event) (*media.Blob, blob.Object, error) {
	if s.opened == nil || s.bypassed() {
		return s.sealedThumbnail(ctx, p, e)
	}
	want := media.Label{Home: e.HomeID, Device: e.DeviceID, Event: e.ID, Kind: media.KindThumbnail}
	if b, ok := s.opened.get(want); ok {
		return b, nil, nil
	}
	b, obj, err := s.sealedThumbnail(ctx, p, e)
	if err != nil || b.Label != want || b.Size() > maxCachedThumbnail {
		// Another blob's label is the guard's to refuse, never to keep.
		return b, obj, err
	}
	w, err := b.Whole()
	if err != nil {
		return b, obj, nil // the guard's read will fail the same way
	}
	if obj != nil {
		obj.Close()
	}
	s.opened.put(w)
	return w, nil, nil
}

// sealedThumbnail opens an event's sealed thumbnail from the cache, or
// from the blob store (filling the cache).
func (s *Service) sealedThumbnail(ctx context.Context, p authz.Principal, e domain.Event) (*media.Blob, blob.Object, error) {
	keyFor := func(homeID string) (keys.DataKey, error) { return s.dataKey(ctx, homeID) }
	if !s.caching() {
		return s.openBlob(ctx, e.ThumbKey, keyFor)
	}
	ctx = cache.WithRequester(ctx, p.Kind, actorID(p))
	key := cache.NewKey(KindThumbnail, e.HomeID, e.DeviceID, e.ID)
	if raw, _, hit, err := s.cache.Get(ctx, key, e.HomeID); err == nil && hit {
		b, err := media.Open(bytes.NewReader(raw), int64(len(raw)), keyFor)
		if err == nil {
			return b, nil, nil
		}
		// Sealed by this cache for this key, yet not a blob of its home:
		// never served; the blob store answers instead.
		s.log.WarnContext(ctx, "cached thumbnail does not open; reading the blob store", "event", e.ID, "err", err)
	}
	obj, err := s.blobs.Open(ctx, e.ThumbKey)
	if err != nil {
		return nil, nil, err
	}
	if obj.Size() > maxCachedThumbnail {
		b, err := media.Open(obj, obj.Size(), keyFor)
		if err != nil {
			obj.Close()
			return nil, nil, err
		}
		return b, obj, nil
	}
	raw := make([]byte, obj.Size())
	_, err = io.ReadFull(io.NewSectionReader(obj, 0, obj.Size()), raw)
	obj.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("read blob: %w", err)
	}
	b, err := media.Open(bytes.NewReader(raw), int64(len(raw)), keyFor)
	if err != nil {
		return nil, nil, err
	}
	// Only a blob that opened is cached; blobs never change, so version 0.
	if err := s.cache.Put(ctx, key, e.HomeID, 0, raw); err != nil {
		s.log.DebugContext(ctx, "caching a thumbnail", "err", err)
	}
	return b, nil, nil
}

func (s *Service) openBlob(ctx context.Context, key string, keyFor func(string) (keys.DataKey, error)) (*media.Blob, blob.Object, error) {
	obj, err := s.blobs.Open(ctx, key)
	if err != nil {
		return nil, nil, err
	}
	b, err := media.Open(obj, obj.Size(), keyFor)
	if err != nil {
		obj.Close()
		return nil, nil, err
	}
	return b, obj, nil
}
