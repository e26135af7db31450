package queue

import (
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// ErrNoHashTag: on Redis Cluster, a queue's keys must all hash to one slot
// (every script of the queue touches several of them), which takes a hash
// tag — a "{…}" part — in the prefix or the queue name.
var ErrNoHashTag = errors.New("queue: on Redis Cluster the queue's prefix or name needs a hash tag")

// hashTag returns the part of key that Redis Cluster hashes: the text
// between the first '{' and the first '}' after it, when not empty.
func hashTag(key string) (string, bool) {
	open := strings.IndexByte(key, '{')
	if open < 0 {
		return "", false
	}
	end := strings.IndexByte(key[open+1:], '}')
	if end <= 0 {
		return "", false
	}
	return key[open+1 : open+1+end], true
}

// checkClusterKeys refuses, on a cluster client, a queue whose keys would
// spread over several slots. Without the check every script call fails
// with a cross-slot or non-local-key error (and a script may stop half
// way); with it the mistake is named once, when the queue is built.
func checkClusterKeys(c redis.UniversalClient, prefix, name string) error {
	if _, ok := c.(*redis.ClusterClient); !ok {
		return nil
	}
	if _, ok := hashTag(prefix + ":" + name + ":"); ok {
		return nil
	}
	return fmt.Errorf("%w: the keys of queue %q under prefix %q would hash to different slots; use a prefix such as \"{%s}\" or a queue name such as \"{%s}\"",
		ErrNoHashTag, name, prefix, prefix, name)
}
