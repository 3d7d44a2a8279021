// Package id makes the identifiers of camvault objects: 128 random bits,
// written as 26 lowercase base32 characters. They are never sequential, so
// an identifier tells nothing about another.
package id

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
)

var enc = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Len is the length of every identifier New returns.
const Len = 26

// New returns a fresh random identifier.
func New() string {
	var b [16]byte
	rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return enc.EncodeToString(b[:])
}

// Valid reports whether s has the shape of an identifier New makes. Handlers
// use it to answer not found for garbage without a store round trip.
func Valid(s string) bool {
	if len(s) != Len {
		return false
	}
	return strings.Trim(s, "abcdefghijklmnopqrstuvwxyz234567") == ""
}
