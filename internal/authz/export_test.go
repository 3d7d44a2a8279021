package authz

// KeptDecisions is how many memberships d keeps in memory.
func KeptDecisions(d *Decider) int { return d.members.Len() }
