package identity

import "context"

// HoldHashSlot takes one of s's password-hashing slots, as a hash in
// progress would, until release.
func HoldHashSlot(s *Service, ctx context.Context) (release func(), err error) {
	return s.hashSlot(ctx)
}
