package events

import (
	"container/list"
	"sync"

	"github.com/camvault/camvault/internal/media"
)

// openedCache keeps opened thumbnails in process memory, least recently
// viewed out first, at most max bytes of plaintext: a thumbnail viewed
// again is not decrypted again. It is never shared with another process
// and never written anywhere; at rest every thumbnail stays sealed.
//
// An entry is found by the exact label of the blob it holds (home,
// camera, event), and that label came from the blob itself, authenticated
// when it was opened. It is used only after the event's record was read
// and the requester's grant decided for this very request, and the guard
// still compares the label with the grant before a byte is sent
// (invariant 5). Blobs never change, and a deleted event is refused by
// its record before this cache is looked at, so entries need no version.
type openedCache struct {
	max  int64
	mu   sync.Mutex
	size int64
	ll   *list.List // of *openedEntry, most recent at the front
	m    map[media.Label]*list.Element
}

type openedEntry struct {
	label media.Label
	blob  *media.Blob
}

func newOpenedCache(max int64) *openedCache {
	return &openedCache{max: max, ll: list.New(), m: map[media.Label]*list.Element{}}
}

func (c *openedCache) get(l media.Label) (*media.Blob, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.m[l]
	if !ok {
		return nil, false
	}
	c.ll.MoveToFront(el)
	return el.Value.(*openedEntry).blob, true
}

// put keeps b under its own label; a blob larger than the whole cache is
// not kept.
func (c *openedCache) put(b *media.Blob) {
	n := b.Size()
	if n > c.max {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[b.Label]; ok {
		c.ll.MoveToFront(el)
		return
	}
	for c.size+n > c.max {
		last := c.ll.Back()
		e := last.Value.(*openedEntry)
		c.ll.Remove(last)
		delete(c.m, e.label)
		c.size -= e.blob.Size()
	}
	c.m[b.Label] = c.ll.PushFront(&openedEntry{label: b.Label, blob: b})
	c.size += n
}
