package keys

import (
	"crypto/sha256"
	"sync"
)

// maxCachedDataKeys bounds the unwrapped data keys kept in memory: about
// 200 bytes each, so the cache stays well under a megabyte.
const maxCachedDataKeys = 4096

// dataKeyCache keeps unwrapped home data keys in process memory, so a view
// or an upload does not open the wrapped key again each time. An entry is
// found by the hash of the home ID and the exact wrapped bytes it was
// opened from: rewrapping (a rotation) writes new bytes, sealed with a
// fresh nonce, which miss the cache and are opened anew, so a superseded
// wrapping is never what answers for the new one. See docs/design/keys.md.
type dataKeyCache struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]cachedDataKey
}

// cachedDataKey is an unwrapped key and the home it belongs to, so that
// every key of a deleted home can be dropped (ForgetHome).
type cachedDataKey struct {
	dk   DataKey
	home string
}

func newDataKeyCache() *dataKeyCache {
	return &dataKeyCache{m: map[[sha256.Size]byte]cachedDataKey{}}
}

// dataKeyID names a wrapped key of a home. The home ID is part of it
// because unwrapping checks the key belongs to that home: the same bytes
// asked for under another home must fail, not hit.
func dataKeyID(wrapped []byte, homeID string) [sha256.Size]byte {
	return sha256.Sum256(Encode([]byte("home-data-key"), []byte(homeID), wrapped))
}

func (c *dataKeyCache) get(id [sha256.Size]byte) (DataKey, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	return e.dk, ok
}

func (c *dataKeyCache) put(id [sha256.Size]byte, home string, dk DataKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[id]; !ok && len(c.m) >= maxCachedDataKeys {
		// Full: drop an arbitrary entry (map order is unspecified). A
		// dropped key costs one unwrap when next used, nothing more.
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[id] = cachedDataKey{dk: dk, home: home}
}

// forget drops every key of a home; home "" drops every key.
func (c *dataKeyCache) forget(home string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, e := range c.m {
		if home == "" || e.home == home {
			delete(c.m, id)
		}
	}
}
