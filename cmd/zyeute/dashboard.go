package main

import (
	"context"
	"fmt"
	"net/http"

	"github.com/zyeute/zyeute-redis/dashboard"
	"github.com/zyeute/zyeute-redis/httpjson"
	"github.com/zyeute/zyeute-redis/internal/httpapi"
	"github.com/zyeute/zyeute-redis/redisconn"
	"github.com/zyeute/zyeute-redis/session"
)

// dashboardSessionPrefix keeps admin sessions apart from any other
// session the service may store.
const dashboardSessionPrefix = "zyeute:admin-session:"

// wireDashboard mounts the admin dashboard on /admin: the page, its
// sign-in (ADMIN_TOKEN once, then a session in Redis with an in-memory
// fallback) and its API under /admin/api. The API also takes
// "Authorization: Bearer <ADMIN_TOKEN>" for scripts. Live connections end
// when serve starts shutting down.
func wireDashboard(ctx context.Context, a *app) error {
	store, err := session.NewStore(a.redis.Client(), &session.Options{
		TTL: dashboard.DefaultAbsoluteTimeout, KeyPrefix: dashboardSessionPrefix, Logger: a.logger,
		Available: func() bool { return a.redis.State() == redisconn.Connected },
	})
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	srv, err := dashboard.New(&dashboard.Options{
		Redis: a.redis.Client(), Prefix: a.cfg.QueuePrefix, Sessions: store,
		AdminToken: a.cfg.AdminToken.Reveal(), TrustProxy: a.cfg.HTTP.TrustProxy, Logger: a.logger,
		Moderation: mountedRoute(a, "GET /api/admin/moderation/stats"),
	})
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	for _, r := range srv.Routes() {
		a.routes = append(a.routes, httpapi.Route{Pattern: r.Pattern, Handler: r.Handler})
	}
	context.AfterFunc(ctx, func() { srv.Close(); store.Close() })
	return nil
}

// mountedRoute is the handler an earlier wiring step (serve wires
// moderation before the dashboard) mounted on pattern, without its admin
// guard: the dashboard puts its own sign-in in front. 404 when none did.
func mountedRoute(a *app, pattern string) http.Handler {
	for _, rt := range a.routes {
		if rt.Pattern == pattern {
			return rt.Handler
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		httpjson.Error(w, http.StatusNotFound, "not available: nothing serves "+pattern)
	})
}
