package cache_test

import (
	"crypto/rand"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/camvault/camvault/internal/cache"
	"github.com/camvault/camvault/internal/cache/memory"
)

// BenchmarkGetHit is the cost of a hit on the in-process backend, raw
// (backend.Get of the bytes) and sealed (Cache.Get: the backend read plus
// opening and checking the entry), for value sizes from a grant list to a
// thumbnail and a keyframe.
func BenchmarkGetHit(b *testing.B) {
	for _, size := range []int{64, 1 << 10, 16 << 10, 256 << 10} {
		value := make([]byte, size)
		rand.Read(value)
		k := cache.NewKey("thumbnail", "home-42", "cam-7", "ev-123456")
		b.Run(fmt.Sprintf("raw/%dB", size), func(b *testing.B) {
			be, err := memory.New(64 << 20)
			if err != nil {
				b.Fatal(err)
			}
			if err := be.Set(b.Context(), k.Encoded(), value, time.Hour); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, ok, err := be.Get(b.Context(), k.Encoded()); !ok || err != nil {
					b.Fatal("miss")
				}
			}
		})
		b.Run(fmt.Sprintf("sealed/%dB", size), func(b *testing.B) {
			be, err := memory.New(64 << 20)
			if err != nil {
				b.Fatal(err)
			}
			c, err := cache.New(be, testKeyring(b), cache.Options{Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			if err := c.Put(b.Context(), k, "home-42", 1, value); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, hit, err := c.Get(b.Context(), k, "home-42"); !hit || err != nil {
					b.Fatal("miss")
				}
			}
		})
	}
}
