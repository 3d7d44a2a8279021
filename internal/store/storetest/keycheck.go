package storetest

import (
	"bytes"
	"math"
	"sync"
	"testing"

	"github.com/camvault/camvault/internal/store"
)

// testKeyCheck: the first value written for a generation stays; a later,
// different one gets the first back and changes nothing; generations do
// not share values.
func testKeyCheck(t *testing.T, s store.Store) {
	ctx := t.Context()
	first, second := random("check-a"), random("check-b")
	keyCheck := func(what string, gen uint32, value, want []byte) {
		t.Helper()
		got, err := s.KeyCheck(ctx, gen, value)
		check(t, what, err)
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: stored %x, want %x", what, got, want)
		}
	}
	keyCheck("first write", 1, first, first)
	keyCheck("same value again", 1, first, first)
	keyCheck("a different value", 1, second, first)
	keyCheck("after the different value", 1, first, first)
	keyCheck("another generation", 2, second, second)
	keyCheck("generation 1 after generation 2", 1, second, first)
	keyCheck("the largest generation", math.MaxUint32, first, first)
	keyCheck("generation 2 after the largest", 2, first, second)
}

// testKeyCheckRace: nodes starting together on an empty store, each with
// its own value, all get the same one back: exactly one of theirs.
func testKeyCheckRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 16
	values := make([][]byte, n)
	got := make([][]byte, n)
	errs := make([]error, n)
	for i := range n {
		values[i] = random("racer")
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			got[i], errs[i] = s.KeyCheck(ctx, 7, values[i])
		})
	}
	wg.Wait()
	for i := range n {
		check(t, "racing key check", errs[i])
		if !bytes.Equal(got[i], got[0]) {
			t.Fatalf("racing key checks saw two values: %x and %x", got[0], got[i])
		}
	}
	winners := 0
	for _, v := range values {
		if bytes.Equal(v, got[0]) {
			winners++
		}
	}
	if winners != 1 {
		t.Fatalf("the stored value %x is not one of the racers' values", got[0])
	}
}
