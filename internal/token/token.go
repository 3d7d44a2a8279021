// Package token makes and checks bearer tokens. A token is a readable prefix
// naming its kind and 256 random bits; only its SHA-256 hash is ever stored
// (invariant 7). The prefix lets a route refuse a token of the
// wrong kind before any lookup (a device token never works on a person route).
package token

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"strings"
)

// Kind is the kind of principal a token stands for.
type Kind string

// The kinds, by their prefixes.
const (
	Session     Kind = "cvs_"
	Device      Kind = "cvd_"
	Integration Kind = "cvi_" // a partner's access token
	// A partner's refresh token, its client secret and an authorization
	// code: never accepted as a bearer token anywhere.
	IntegrationRefresh Kind = "cvr_"
	PartnerSecret      Kind = "cvp_"
	AuthorizationCode  Kind = "cva_"
	// A password reset link's token: only ever in the mailed link.
	PasswordReset Kind = "cvpw_"
)

var enc = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

const bodyLen = 52 // base32 of 32 bytes

// New returns a fresh token of the kind and the hash to store for it.
func New(k Kind) (tok string, hash []byte) {
	var b [32]byte
	rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	tok = string(k) + enc.EncodeToString(b[:])
	return tok, Hash(tok)
}

// Hash is what the store keeps for a token. Tokens carry 256 random bits, so
// an unsalted fast hash is enough: the hash cannot be reversed or guessed.
func Hash(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

// Parse checks that tok is well formed and of kind k. It does not say
// whether the token is live: only the store knows that.
func Parse(tok string, k Kind) bool {
	body, ok := strings.CutPrefix(tok, string(k))
	if !ok || len(body) != bodyLen {
		return false
	}
	return strings.Trim(body, "abcdefghijklmnopqrstuvwxyz234567") == ""
}
