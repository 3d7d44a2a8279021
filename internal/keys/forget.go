package keys

// ForgetHome drops from process memory every unwrapped data key of a
// home ("": of every home). A deleted home's wrapped key is gone from the
// store; without this its unwrapped key would stay in the memory of every
// node that used it until pushed out, and a ciphertext copied before the
// deletion could still be opened by such a process. The lease's change
// log tells every node of a deletion (docs/design/deletion.md).
func (k *Keyring) ForgetHome(homeID string) { k.dataKeys.forget(homeID) }

// CachedDataKeys is how many unwrapped data keys of a home the process
// holds in memory.
func (k *Keyring) CachedDataKeys(homeID string) int {
	k.dataKeys.mu.Lock()
	defer k.dataKeys.mu.Unlock()
	n := 0
	for _, e := range k.dataKeys.m {
		if e.home == homeID {
			n++
		}
	}
	return n
}

// WrapExportKey seals an export's own key under the current
// key-encryption key, bound to the export: a purpose of its own, so a
// wrapped export key can never pass for a home's data key or the other
// way round.
func (k *Keyring) WrapExportKey(dk DataKey, exportID string) []byte {
	return k.kek[k.current].seal(dk.raw, AD("export-key", exportID))
}

// UnwrapExportKey opens a key wrapped by WrapExportKey.
func (k *Keyring) UnwrapExportKey(wrapped []byte, exportID string) (DataKey, error) {
	s, err := pick(k.kek, wrapped)
	if err != nil {
		return DataKey{}, err
	}
	raw, err := s.open(wrapped, AD("export-key", exportID))
	if err != nil {
		return DataKey{}, err
	}
	return dataKeyFrom(raw)
}
