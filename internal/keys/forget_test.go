package keys

import "testing"

// TestForgetHome: a home's unwrapped key leaves memory, and only its own.
func TestForgetHome(t *testing.T) {
	k := testKeyring(t)
	a, b := "home-a", "home-b"
	for _, h := range []string{a, b} {
		dk, err := NewDataKey()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := k.UnwrapDataKey(k.WrapDataKey(dk, h), h); err != nil {
			t.Fatal(err)
		}
	}
	if k.CachedDataKeys(a) != 1 || k.CachedDataKeys(b) != 1 {
		t.Fatalf("cached keys before: %d, %d", k.CachedDataKeys(a), k.CachedDataKeys(b))
	}
	k.ForgetHome(a)
	if k.CachedDataKeys(a) != 0 || k.CachedDataKeys(b) != 1 {
		t.Fatalf("after forgetting a: %d, %d", k.CachedDataKeys(a), k.CachedDataKeys(b))
	}
	k.ForgetHome("")
	if k.CachedDataKeys(b) != 0 {
		t.Fatalf("after forgetting every home: %d", k.CachedDataKeys(b))
	}
}

// TestExportKeyPurpose: an export's wrapped key opens only as that
// export's, never as a home's data key.
func TestExportKeyPurpose(t *testing.T) {
	k := testKeyring(t)
	dk, err := NewDataKey()
	if err != nil {
		t.Fatal(err)
	}
	w := k.WrapExportKey(dk, "x1")
	if _, err := k.UnwrapExportKey(w, "x1"); err != nil {
		t.Fatal(err)
	}
	if _, err := k.UnwrapExportKey(w, "x2"); err == nil {
		t.Fatal("an export key opened as another export's")
	}
	if _, err := k.UnwrapDataKey(w, "x1"); err == nil {
		t.Fatal("an export key opened as a home's data key")
	}
}
