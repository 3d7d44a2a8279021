package server

import "context"

// CloseStore closes the server's store alone while it goes on serving: a
// real store outage, for the tests of how one is answered.
func (a *App) CloseStore() error { return a.store.Close() }

// CachedDataKeys is how many unwrapped data keys of a home the server
// holds in memory.
func (a *App) CachedDataKeys(homeID string) int { return a.deletion.keys.CachedDataKeys(homeID) }

// DrainRemovals removes every blob queued for removal now, as the
// background removal does.
func (a *App) DrainRemovals(ctx context.Context) (int, error) { return a.deletion.remover.Drain(ctx) }
