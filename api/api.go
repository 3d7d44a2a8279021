// Package api holds the description of camvault's public HTTP API, an
// OpenAPI 3.1 document embedded in the binary and served at
// /api/v1/openapi.json. A test checks it against the registered routes.
package api

import (
	_ "embed"
	"slices"
)

//go:embed openapi.json
var spec []byte

// OpenAPI returns the OpenAPI document.
func OpenAPI() []byte { return slices.Clone(spec) }
