package main

import (
	"github.com/zyeute/zyeute-redis/dashboard"
	"github.com/zyeute/zyeute-redis/internal/httpapi"
)

// wireDashboard mounts the admin page on GET /admin and /admin/. The page
// holds no data and is served without a token; the admin routes it polls
// (/api/admin/queue/stats, /api/admin/moderation/stats) check ADMIN_TOKEN.
func wireDashboard(a *app) {
	h := dashboard.Handler()
	for _, p := range dashboard.Patterns {
		a.routes = append(a.routes, httpapi.Route{Pattern: p, Handler: h})
	}
}
