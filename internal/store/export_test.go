package store

import "context"

// Migrate applies the migrations again, for the external tests.
func Migrate(ctx context.Context, s *Store) error { return s.migrate(ctx) }
