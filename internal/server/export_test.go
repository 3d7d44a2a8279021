package server

// CloseStore closes the server's store alone while it goes on serving: a
// real store outage, for the tests of how one is answered.
func (a *App) CloseStore() error { return a.store.Close() }
