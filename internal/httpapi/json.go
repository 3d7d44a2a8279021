package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/camvault/camvault/internal/apperr"
)

// maxJSONBody bounds every JSON request body; nothing in the API needs more.
const maxJSONBody = 64 << 10

// decodeJSON reads exactly one JSON object into v, refusing unknown fields,
// trailing data, wrong types, a wrong content type and bodies over the
// limit, each with a message that says what was wrong.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return apperr.New(apperr.Invalid, "Content-Type must be application/json")
		}
	}
	body := http.MaxBytesReader(w, r.Body, maxJSONBody)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return jsonError(err)
		}
		return apperr.New(apperr.Invalid, "body must hold a single JSON object")
	}
	return nil
}

func jsonError(err error) error {
	var (
		tooBig    *http.MaxBytesError
		syntax    *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
		unmarshal *json.InvalidUnmarshalError
	)
	switch {
	case errors.As(err, &tooBig):
		return apperr.New(apperr.TooLarge, "body is larger than %d bytes", maxJSONBody)
	case errors.Is(err, io.EOF):
		return apperr.New(apperr.Invalid, "body must be a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return apperr.New(apperr.Invalid, "body is not complete JSON")
	case errors.As(err, &syntax):
		return apperr.New(apperr.Invalid, "body is not valid JSON (at byte %d)", syntax.Offset)
	case errors.As(err, &typeErr):
		if typeErr.Field != "" {
			return apperr.New(apperr.Invalid, "field %q must be %s", typeErr.Field, jsonKind(typeErr.Type.Kind().String()))
		}
		return apperr.New(apperr.Invalid, "body must be a JSON object")
	case errors.As(err, &unmarshal):
		return fmt.Errorf("decode json: %w", err)
	}
	if msg := err.Error(); len(msg) > len("json: unknown field ") && msg[:len("json: unknown field ")] == "json: unknown field " {
		return apperr.New(apperr.Invalid, "unknown field %s", msg[len("json: unknown field "):])
	}
	return apperr.New(apperr.Invalid, "body is not valid JSON")
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	case "bool":
		return "true or false"
	}
	return "a number"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the status is sent; a failed write has no one to tell
}
