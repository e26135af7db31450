//go:build noworker

package main

import "errors"

// Built with -tags noworker while queue.Worker does not exist yet: the
// producer scenarios run, the worker scenarios report this error.
const oursHasWorker = false

func (d *oursDriver) newWorker(int, bool, hooks) (benchWorker, error) {
	return nil, errors.New("ours: built without the worker (-tags noworker)")
}
