package httpapi

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/camvault/camvault/api"
	"github.com/camvault/camvault/internal/domain"
)

// TestOpenAPIEventKinds keeps api/openapi.json's event kinds those of
// domain.EventKinds, the one list: every "kind" property and "kind" query
// parameter (through $ref and array items) enumerates exactly that list,
// in its order.
func TestOpenAPIEventKinds(t *testing.T) {
	var root any
	if err := json.Unmarshal(api.OpenAPI(), &root); err != nil {
		t.Fatalf("api/openapi.json is not valid JSON: %v", err)
	}
	want := make([]string, 0, len(domain.EventKinds()))
	for _, k := range domain.EventKinds() {
		want = append(want, string(k))
	}

	var places []string
	check := func(where string, schema any) {
		places = append(places, where)
		enum, ok := kindEnum(root, schema)
		if !ok {
			t.Errorf("%s: no enum of kinds", where)
			return
		}
		if !slices.Equal(enum, want) {
			t.Errorf("%s: kinds %q, want domain.EventKinds %q", where, enum, want)
		}
	}
	var walk func(where string, v any)
	walk = func(where string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if props, ok := v["properties"].(map[string]any); ok {
				if s, ok := props["kind"]; ok {
					check(where+"/properties/kind", s)
				}
			}
			if v["name"] == "kind" && v["in"] == "query" {
				check(where+" (query parameter kind)", v["schema"])
			}
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(where+"/"+k, v[k])
			}
		case []any:
			for _, child := range v {
				walk(where+"/[]", child)
			}
		}
	}
	walk("#", root)
	// The upload's meta, the event as listed, the events filter.
	if len(places) < 3 {
		t.Errorf("found event kinds only at %q; want the upload meta, the event and the events filter", places)
	}
}

// kindEnum returns the string enum of a schema, following $ref and the
// items of an array.
func kindEnum(root, schema any) ([]string, bool) {
	for range 10 { // a $ref chain longer than this is a loop
		m, ok := schema.(map[string]any)
		if !ok {
			return nil, false
		}
		if ref, ok := m["$ref"].(string); ok {
			if schema, ok = lookupPointer(root, ref); !ok {
				return nil, false
			}
			continue
		}
		if m["type"] == "array" {
			schema = m["items"]
			continue
		}
		raw, ok := m["enum"].([]any)
		if !ok {
			return nil, false
		}
		out := make([]string, 0, len(raw))
		for _, v := range raw {
			s, ok := v.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

// lookupPointer returns what a local "#/..." reference points at.
func lookupPointer(root any, ref string) (any, bool) {
	ptr, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, false
	}
	cur := root
	for _, part := range strings.Split(ptr, "/") {
		part = strings.NewReplacer("~1", "/", "~0", "~").Replace(part)
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}
