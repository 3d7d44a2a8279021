package httpapi

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/camvault/camvault/api"
)

// openAPIMethods are the keys of an OpenAPI path item that are operations.
var openAPIMethods = map[string]bool{
	"get": true, "put": true, "post": true, "delete": true,
	"options": true, "head": true, "patch": true, "trace": true,
}

type openAPIOperation struct {
	OperationID string                     `json:"operationId"`
	Responses   map[string]json.RawMessage `json:"responses"`
	Parameters  []struct {
		Ref  string `json:"$ref"`
		Name string `json:"name"`
		In   string `json:"in"`
	} `json:"parameters"`
}

type openAPIDoc struct {
	OpenAPI    string                                `json:"openapi"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Parameters map[string]struct {
			Name string `json:"name"`
			In   string `json:"in"`
		} `json:"parameters"`
	} `json:"components"`
}

// TestOpenAPIMatchesRoutes keeps api/openapi.json true: every registered
// route is described, and everything described is a registered route.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	raw := api.OpenAPI()
	var doc openAPIDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("api/openapi.json is not valid JSON: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Errorf("openapi version is %q, want 3.1.x", doc.OpenAPI)
	}

	ops := map[string]openAPIOperation{} // "METHOD pattern" -> operation
	for path, item := range doc.Paths {
		for key, v := range item {
			if !openAPIMethods[key] {
				continue // summary, description, parameters, servers, $ref
			}
			var op openAPIOperation
			if err := json.Unmarshal(v, &op); err != nil {
				t.Errorf("%s %s: operation is malformed: %v", strings.ToUpper(key), path, err)
				continue
			}
			ops[strings.ToUpper(key)+" "+path] = op
		}
	}

	registered := map[string]Route{}
	for _, rt := range Routes() {
		key := strings.ToUpper(rt.Method) + " " + rt.Pattern
		registered[key] = rt
		item, ok := doc.Paths[rt.Pattern]
		if !ok {
			t.Errorf("route %s is registered but path %q is not in api/openapi.json", key, rt.Pattern)
			continue
		}
		if _, ok := item[strings.ToLower(rt.Method)]; !ok {
			t.Errorf("route %s is registered but api/openapi.json has no %q operation under %q", key, strings.ToLower(rt.Method), rt.Pattern)
		}
	}

	keys := make([]string, 0, len(ops))
	for k := range ops {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	opIDs := map[string]string{}
	pathParam := regexp.MustCompile(`\{([^}]+)\}`)
	for _, key := range keys {
		op := ops[key]
		if _, ok := registered[key]; !ok {
			t.Errorf("api/openapi.json describes %s, which is not a registered route", key)
		}
		if op.OperationID == "" {
			t.Errorf("%s: operation has no operationId", key)
		} else if other, dup := opIDs[op.OperationID]; dup {
			t.Errorf("%s: operationId %q is also used by %s", key, op.OperationID, other)
		} else {
			opIDs[op.OperationID] = key
		}
		if len(op.Responses) == 0 {
			t.Errorf("%s: operation has no responses", key)
		}

		// Every {name} in the path is declared as a path parameter.
		declared := map[string]bool{}
		for _, p := range op.Parameters {
			name, in := p.Name, p.In
			if p.Ref != "" {
				c, ok := doc.Components.Parameters[strings.TrimPrefix(p.Ref, "#/components/parameters/")]
				if !ok {
					t.Errorf("%s: parameter reference %q does not resolve", key, p.Ref)
					continue
				}
				name, in = c.Name, c.In
			}
			if in == "path" {
				declared[name] = true
			}
		}
		_, path, _ := strings.Cut(key, " ")
		for _, m := range pathParam.FindAllStringSubmatch(path, -1) {
			if !declared[m[1]] {
				t.Errorf("%s: path parameter %q is not declared", key, m[1])
			}
			delete(declared, m[1])
		}
		for name := range declared {
			t.Errorf("%s: declares path parameter %q that is not in the path", key, name)
		}
	}

	// Every local $ref points at something in the document.
	var generic any
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatal(err)
	}
	checkRefs(t, generic, generic)
}

// checkRefs reports every "$ref": "#/..." under v that does not resolve in root.
func checkRefs(t *testing.T, root, v any) {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		if ref, ok := v["$ref"].(string); ok {
			if !resolvePointer(root, ref) {
				t.Errorf("$ref %q does not resolve", ref)
			}
		}
		for _, child := range v {
			checkRefs(t, root, child)
		}
	case []any:
		for _, child := range v {
			checkRefs(t, root, child)
		}
	}
}

func resolvePointer(root any, ref string) bool {
	ptr, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return false // only local references are used
	}
	cur := root
	for _, part := range strings.Split(ptr, "/") {
		part = strings.NewReplacer("~1", "/", "~0", "~").Replace(part)
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = m[part]; !ok {
			return false
		}
	}
	return true
}
