// Package moderation decides whether user content (text or an image) breaks
// Zyeuté's content rules, and caches those verdicts in Redis.
//
// A [Moderator] is a provider: [RulesModerator] judges text locally with
// French, Québec French and English term lists and patterns (no network, the
// default, so the service works offline); [OpenAIModerator] calls any
// OpenAI-compatible /v1/moderations endpoint over HTTP.
//
// A [Cache] sits in front of any provider. Verdicts are stored as JSON under
// zyeute:moderation:v1:<sha256 hex>, where the hash covers the normalised
// content together with the provider, the model and the policy versions, so
// changing any of them invalidates old verdicts without a flush. Concurrent
// identical requests share one provider call. Provider errors are never
// cached. When Redis is not configured, not available or failing, the cache
// calls the provider directly and counts a bypass: a Redis problem never
// fails a moderation request.
//
// [Cache.Handler] and [Cache.StatsHandler] are the HTTP endpoints
// (POST /api/moderation and GET /api/admin/moderation/stats; the caller mounts
// them and does admin authentication). [Cache.AIStatus] is the "ai" section
// of the health document.
package moderation
