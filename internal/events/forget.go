package events

// ForgetHome drops the opened thumbnails of a home ("": of every home)
// from this node's memory. Nothing could serve them once the home is
// gone (its record is read first), but a deleted home's plaintext must
// not linger in memory either; the lease's change log calls this on every
// node for every home a change names (docs/design/deletion.md).
func (s *Service) ForgetHome(homeID string) {
	if s.opened != nil {
		s.opened.forget(homeID)
	}
}

// forget drops every entry of a home; home "" drops every entry.
func (c *openedCache) forget(home string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for l, el := range c.m {
		if home != "" && l.Home != home {
			continue
		}
		c.size -= el.Value.(*openedEntry).blob.Size()
		c.ll.Remove(el)
		delete(c.m, l)
	}
}
