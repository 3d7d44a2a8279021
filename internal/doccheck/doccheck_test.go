package doccheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRepository: every reference in the project's comments and documents
// resolves.
func TestRepository(t *testing.T) {
	problems, err := Check(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// TestFindsBrokenReferences: the checker itself reports each kind of
// reference that points nowhere, and accepts the ones that resolve.
func TestFindsBrokenReferences(t *testing.T) {
	root := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(InvariantsDoc, "# Design\n\n## Invariants\n\n1. One.\n2. Two.\n\n## The cache\n\n[good](other.md#keys) [bad file](missing.md) [bad anchor](other.md#nope)\n")
	write("docs/design/other.md", "# Other\n\n## Keys\n\n```\n## Not a heading\n```\n")
	write("pkg/a.go", `package pkg

// Good: invariant 2 (docs/design/README.md, "The cache"), docs/design/other.md#keys.
// Bad: DESIGN.md invariant 3; docs/design/README.md "Nowhere"; docs/design/other.md#not-a-heading.
var x = "DESIGN.md is in a string, not a comment"
`)
	problems, err := Check(root)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range problems {
		got = append(got, p.String())
	}
	want := []string{
		"docs/design/README.md:10: link missing.md: no such file",
		"docs/design/README.md:10: link other.md#nope: no section #nope",
		`pkg/a.go:4: DESIGN.md: no such file in the project`,
		`pkg/a.go:4: docs/design/README.md: no section "Nowhere"`,
		`pkg/a.go:4: docs/design/other.md#not-a-heading: no section #not-a-heading`,
		`pkg/a.go:4: invariant 3 is not in docs/design/README.md`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
