package audit

// EntryHash is entryHash, for tests that write chains as an earlier
// release did (entries of generation 0).
var EntryHash = entryHash
