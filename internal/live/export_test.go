package live

// Deliver hands f to the hub of deviceID on this node as if it had come
// from the bus and passed the hub's own checks: how a test puts another
// camera's frame in front of the last step.
func (s *Service) Deliver(deviceID string, f Frame) bool {
	s.mu.Lock()
	h := s.hubs[deviceID]
	s.mu.Unlock()
	if h == nil {
		return false
	}
	h.deliver(f)
	return true
}
