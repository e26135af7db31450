package jobs

// keys names the Redis keys of one queue, BullMQ's layout
// "<prefix>:<queue>:<suffix>" (protocol §2). Pure functions, no I/O.
type keys struct{ base string }

func newKeys(prefix, queue string) keys { return keys{base: prefix + ":" + queue + ":"} }

func (k keys) key(suffix string) string { return k.base + suffix }
func (k keys) job(id string) string     { return k.base + id }

// stateKeys are the keys listed by stats.lua, in its order.
func (k keys) statsKeys() []string {
	return []string{k.key("wait"), k.key("active"), k.key("delayed"), k.key("prioritized"), k.key("completed"),
		k.key("failed"), k.key("waiting-children"), k.key("paused"), k.key("meta")}
}
