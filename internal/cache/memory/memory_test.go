package memory_test

import (
	"testing"

	"github.com/camvault/camvault/internal/cache"
	"github.com/camvault/camvault/internal/cache/cachetest"
	"github.com/camvault/camvault/internal/cache/memory"
)

func TestConformance(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) cache.Backend {
		b, err := memory.New(4 << 20)
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}

func TestRefusesTinyLimit(t *testing.T) {
	if _, err := memory.New(memory.EntryOverhead); err == nil {
		t.Fatal("a limit that holds nothing is accepted")
	}
}
