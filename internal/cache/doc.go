// Package cache is camvault's cache: a small Backend interface over raw
// bytes (in-process in subpackage memory, Redis/Valkey in subpackage redis,
// both passing the conformance suite in cachetest), and Cache, which makes
// every entry prove what it is (invariant 4).
//
// # Entries prove what they are
//
// Cache.Put seals the value with XChaCha20-Poly1305 under a key derived from
// the keyring for "cache-entries". The associated data is the entry's Key
// encoding (keys.Encode of kind, tenant and parts, never a joined string),
// and the sealed plaintext carries the tenant and the grant version next to
// the value. Cache.Get opens what the backend returns with the key it asked
// for. A value that comes back for another key, was altered, belongs to
// another tenant or is not an entry at all does not open: Get reports a miss,
// counts a mismatch (Stats.Mismatches, and Reporter.CacheMismatch so the
// server can count camvault_cache_mismatch_total, log it and record an
// incident) and never returns it. This holds whatever the backend or its
// client library did: swapped replies, replies delivered to the wrong
// connection (ChatGPT, March 2023), mixed-up mappings under reconnect load
// (Wyze, February 2024), colliding keys (OpenFGA).
//
// # Versions: the caller checks them against the store
//
// Sealing proves which key and tenant an entry belongs to; it cannot prove
// the entry is current. A stale entry (written before a revocation, replayed
// by a faulty backend) opens fine. So every entry carries the version of the
// grants (or of the record) it was computed from, Get returns it, and the
// caller compares it with the store's current version on every request,
// treating any difference as a miss (invariant 3). GetCurrent does
// that comparison for callers that already hold the current version.
//
// # What to cache
//
// Only values whose owner is known before the lookup: the tenant in the Key
// comes from the authenticated principal and the store. Lookups that decide
// ownership on their own (token to account or device) are not cached; a
// camera's home is cached only inside a person's grant, filed under the
// person and checked against that home's grant version (authz.NewCached).
// docs/design/cache.md says what is cached and why.
//
// Backend errors are returned, never turned into values; callers fall back
// to the store. Entries sealed under an older master key (after a rotation)
// are plain misses, counted in Stats.Foreign rather than as mismatches.
package cache
