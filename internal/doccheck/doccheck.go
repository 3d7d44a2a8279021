// Package doccheck finds references in the project's code comments and
// documents that point nowhere: a file that does not exist, a section that
// is not in the file, an invariant the design does not have. Its test runs
// it over the whole repository, so a renamed heading or a moved document
// breaks the build of the docs the way a renamed function breaks the code.
package doccheck

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Problem is one reference that does not resolve.
type Problem struct {
	File string // relative to the root
	Line int
	Text string
}

func (p Problem) String() string { return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Text) }

// InvariantsDoc is where the design's invariants are listed, as a numbered
// list under the heading "Invariants".
const InvariantsDoc = "docs/design/README.md"

var (
	mdLink     = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	mdWhole    = regexp.MustCompile(`\[[^\]]*\]\([^)\s]+\)`)
	mdFile     = regexp.MustCompile(`(?:\.{0,2}/)?(?:[A-Za-z0-9_.-]+/)*[A-Za-z0-9_-][A-Za-z0-9_.-]*\.md\b(?:#[A-Za-z0-9_-]+)?`)
	quotedSec  = regexp.MustCompile(`^,? ?"([^"]+)"`)
	invariants = regexp.MustCompile(`(?i)\binvariants? ((?:\d+(?:, | and | or |-))*\d+)`)
	number     = regexp.MustCompile(`\d+`)
	heading    = regexp.MustCompile(`^#{1,6} +(.+?) *#*$`)
	numbered   = regexp.MustCompile(`^(\d+)\. `)
)

// skipDirs are not scanned: generated output, recorded results, fixtures.
var skipDirs = []string{".git", "testdata", "node_modules", "screenshots"}

// ownTest holds this package's fixtures of broken references.
const ownTest = "internal/doccheck/doccheck_test.go"

// Check scans every .go and .md file under root.
func Check(root string) ([]Problem, error) {
	c := &checker{root: root, headings: map[string][]string{}}
	inv, err := c.invariants()
	if err != nil {
		return nil, err
	}
	c.known = inv
	var problems []Problem
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && slices.Contains(skipDirs, d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		ext := filepath.Ext(path)
		if rel, _ := filepath.Rel(root, path); (ext != ".go" && ext != ".md") || filepath.ToSlash(rel) == ownTest {
			return nil
		}
		ps, err := c.file(path, ext == ".md")
		problems = append(problems, ps...)
		return err
	})
	return problems, err
}

type checker struct {
	root     string
	known    map[int]bool
	headings map[string][]string // by absolute path: each heading's text
}

func (c *checker) invariants() (map[int]bool, error) {
	f, err := os.Open(filepath.Join(c.root, InvariantsDoc))
	if err != nil {
		return nil, fmt.Errorf("the invariants: %w", err)
	}
	defer f.Close()
	known := map[int]bool{}
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if m := heading.FindStringSubmatch(line); m != nil {
			in = m[1] == "Invariants"
			continue
		}
		if m := numbered.FindStringSubmatch(line); in && m != nil {
			n, _ := strconv.Atoi(m[1])
			known[n] = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", InvariantsDoc, err)
	}
	if len(known) == 0 {
		return nil, fmt.Errorf("%s has no numbered list under a heading \"Invariants\"", InvariantsDoc)
	}
	return known, nil
}

func (c *checker) file(path string, markdown bool) ([]Problem, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	rel, _ := filepath.Rel(c.root, path)
	var problems []Problem
	report := func(line int, format string, args ...any) {
		problems = append(problems, Problem{File: rel, Line: line, Text: fmt.Sprintf(format, args...)})
	}
	fence := false
	for i, line := range strings.Split(string(data), "\n") {
		n := i + 1
		text := line
		if markdown {
			if strings.HasPrefix(strings.TrimSpace(line), "```") {
				fence = !fence
				continue
			}
			if fence {
				continue
			}
		} else {
			// In Go, only comments carry references.
			j := strings.Index(line, "//")
			if j < 0 {
				continue
			}
			text = line[j+2:]
		}
		if markdown {
			for _, m := range mdLink.FindAllStringSubmatch(text, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				if msg := c.resolveLink(path, target); msg != "" {
					report(n, "link %s: %s", target, msg)
				}
			}
			// A link's text names what the link resolves; it is not a
			// reference of its own.
			text = mdWhole.ReplaceAllString(text, "")
		}
		for _, loc := range mdFile.FindAllStringIndex(text, -1) {
			ref := text[loc[0]:loc[1]]
			if loc[0] > 0 && strings.ContainsRune("/:@", rune(text[loc[0]-1])) {
				continue // part of a URL or of a longer path already matched
			}
			section := ""
			if m := quotedSec.FindStringSubmatch(text[loc[1]:]); m != nil {
				section = m[1]
			}
			if msg := c.resolveMention(path, ref, section); msg != "" {
				report(n, "%s: %s", ref, msg)
			}
		}
		for _, m := range invariants.FindAllStringSubmatch(text, -1) {
			for _, d := range number.FindAllString(m[1], -1) {
				k, _ := strconv.Atoi(d)
				if !c.known[k] {
					report(n, "invariant %d is not in %s", k, InvariantsDoc)
				}
			}
		}
	}
	return problems, nil
}

// resolveLink resolves a Markdown link as a renderer would: relative to the
// document, with an optional #anchor that must name a heading.
func (c *checker) resolveLink(from, target string) string {
	file, anchor, _ := strings.Cut(target, "#")
	abs := from
	if file != "" {
		abs = filepath.Join(filepath.Dir(from), file)
		if _, err := os.Stat(abs); err != nil {
			return "no such file"
		}
	}
	if anchor == "" || filepath.Ext(abs) != ".md" {
		return ""
	}
	return c.hasHeading(abs, func(h string) bool { return slug(h) == anchor }, "#"+anchor)
}

// resolveMention resolves a file named in prose: from the repository root,
// or else beside the file that names it; a quoted section after it must be
// one of its headings.
func (c *checker) resolveMention(from, ref, section string) string {
	file, anchor, _ := strings.Cut(ref, "#")
	abs := ""
	for _, cand := range []string{filepath.Join(c.root, file), filepath.Join(filepath.Dir(from), file)} {
		if _, err := os.Stat(cand); err == nil {
			abs = cand
			break
		}
	}
	if abs == "" {
		return "no such file in the project"
	}
	if anchor != "" {
		if msg := c.hasHeading(abs, func(h string) bool { return slug(h) == anchor }, "#"+anchor); msg != "" {
			return msg
		}
	}
	if section != "" {
		return c.hasHeading(abs, func(h string) bool { return strings.EqualFold(h, section) }, fmt.Sprintf("%q", section))
	}
	return ""
}

func (c *checker) hasHeading(abs string, match func(string) bool, what string) string {
	hs, ok := c.headings[abs]
	if !ok {
		data, err := os.ReadFile(abs)
		if err != nil {
			return err.Error()
		}
		fence := false
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "```") {
				fence = !fence
			}
			if m := heading.FindStringSubmatch(line); m != nil && !fence {
				hs = append(hs, m[1])
			}
		}
		c.headings[abs] = hs
	}
	if slices.ContainsFunc(hs, match) {
		return ""
	}
	return "no section " + what
}

// slug is a heading's anchor as GitHub makes it: lower case, punctuation
// dropped, spaces to hyphens.
func slug(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || ('a' <= r && r <= 'z') || ('0' <= r && r <= '9') || r > 127:
			b.WriteRune(r)
		}
	}
	return b.String()
}
