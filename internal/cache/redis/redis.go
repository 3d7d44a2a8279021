// Package redis is the Redis/Valkey cache backend, on
// github.com/valkey-io/valkey-go. It stores raw bytes (already sealed by
// cache.Cache) under a key prefix, with the TTL in milliseconds. The
// client's own client-side caching is turned off: the only cache is the one
// whose entries prove what they are.
package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/camvault/camvault/internal/cache"
	"github.com/valkey-io/valkey-go"
)

// DefaultPrefix is put in front of every key unless Options say otherwise.
const DefaultPrefix = "camvault:cache:"

// Options configure a Backend.
type Options struct {
	// Prefix is put in front of every key, so the cache can share a server;
	// DefaultPrefix when empty.
	Prefix string
}

// Backend is a cache.Backend on a Redis or Valkey server.
type Backend struct {
	client valkey.Client
	prefix string
	owns   bool
}

var _ cache.Backend = (*Backend)(nil)

// ParseURL reads a redis:// (or rediss://, valkey://, unix://) URL into
// client options, with client-side caching off.
func ParseURL(url string) (valkey.ClientOption, error) {
	opt, err := valkey.ParseURL(url)
	if err != nil {
		return opt, fmt.Errorf("redis cache: %w", err)
	}
	opt.DisableCache = true
	return opt, nil
}

// OpenURL connects to the server at url and checks it answers.
func OpenURL(ctx context.Context, url string, opts Options) (*Backend, error) {
	opt, err := ParseURL(url)
	if err != nil {
		return nil, err
	}
	return Open(ctx, opt, opts)
}

// Open makes a client with opt, checks the server answers within ctx, and
// returns a Backend that closes the client on Close.
func Open(ctx context.Context, opt valkey.ClientOption, opts Options) (*Backend, error) {
	opt.DisableCache = true
	client, err := valkey.NewClient(opt)
	if err != nil {
		return nil, fmt.Errorf("redis cache: connect to %v: %w", opt.InitAddress, err)
	}
	if err := client.Do(ctx, client.B().Ping().Build()).Error(); err != nil {
		client.Close()
		return nil, fmt.Errorf("redis cache: ping %v: %w", opt.InitAddress, err)
	}
	b := New(client, opts)
	b.owns = true
	return b, nil
}

// New makes a Backend on a client the caller owns and closes.
func New(client valkey.Client, opts Options) *Backend {
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	return &Backend{client: client, prefix: opts.Prefix}
}

// Close closes the client if Open made it.
func (b *Backend) Close() {
	if b.owns {
		b.client.Close()
	}
}

// Get returns the value under key.
func (b *Backend) Get(ctx context.Context, key string) ([]byte, bool, error) {
	v, err := b.client.Do(ctx, b.client.B().Get().Key(b.prefix+key).Build()).AsBytes()
	if valkey.IsValkeyNil(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("redis cache: get: %w", err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, true, nil
}

// Set stores value under key; a ttl is rounded up to whole milliseconds.
func (b *Backend) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if ttl < 0 {
		return cache.ErrNegativeTTL
	}
	set := b.client.B().Set().Key(b.prefix + key).Value(valkey.BinaryString(value))
	var cmd valkey.Completed
	if ttl > 0 {
		ms := (ttl + time.Millisecond - 1) / time.Millisecond
		cmd = set.PxMilliseconds(int64(ms)).Build()
	} else {
		cmd = set.Build()
	}
	if err := b.client.Do(ctx, cmd).Error(); err != nil {
		return fmt.Errorf("redis cache: set: %w", err)
	}
	return nil
}

// Delete removes key.
func (b *Backend) Delete(ctx context.Context, key string) error {
	if err := b.client.Do(ctx, b.client.B().Del().Key(b.prefix+key).Build()).Error(); err != nil {
		return fmt.Errorf("redis cache: delete: %w", err)
	}
	return nil
}

// Clear deletes every key under the backend's prefix, on every node, and
// returns how many it deleted. It scans, so it is for tests and operators,
// not for request paths.
func (b *Backend) Clear(ctx context.Context) (int, error) {
	pattern := globEscape(b.prefix) + "*"
	var deleted int
	var errs []error
	for addr, node := range b.client.Nodes() {
		var cursor uint64
		for {
			e, err := node.Do(ctx, node.B().Scan().Cursor(cursor).Match(pattern).Count(1000).Build()).AsScanEntry()
			if err != nil {
				errs = append(errs, fmt.Errorf("scan %s: %w", addr, err))
				break
			}
			// One DEL per key: in a cluster, keys of one scan can be in
			// different slots.
			cmds := make(valkey.Commands, 0, len(e.Elements))
			for _, k := range e.Elements {
				cmds = append(cmds, node.B().Del().Key(k).Build())
			}
			for _, r := range node.DoMulti(ctx, cmds...) {
				n, err := r.AsInt64()
				if err != nil {
					errs = append(errs, fmt.Errorf("delete on %s: %w", addr, err))
					break
				}
				deleted += int(n)
			}
			if cursor = e.Cursor; cursor == 0 {
				break
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return deleted, fmt.Errorf("redis cache: clear: %w", err)
	}
	return deleted, nil
}

// globEscape quotes the characters SCAN MATCH treats as patterns.
func globEscape(s string) string {
	var b strings.Builder
	for i := range len(s) {
		if strings.IndexByte(`*?[]\`, s[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
