package moderation

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/zyeute/zyeute-redis/secret"
)

// OpenAIConfig configures the OpenAI-compatible HTTP provider.
type OpenAIConfig struct {
	// URL of the moderation endpoint. A base URL ("https://host" or
	// "https://host/v1") gets "/v1/moderations" or "/moderations" appended;
	// a URL whose path already ends in "/moderations" is used as is.
	// Defaults to "https://api.openai.com/v1/moderations".
	URL string
	// APIKey is sent as "Authorization: Bearer <key>". It never appears in
	// logs or errors. Empty sends no Authorization header (local servers).
	// Defaults to empty.
	APIKey secret.String
	// Model is sent as "model". Defaults to "omni-moderation-latest".
	Model string
	// PolicyVersion is part of the cache key: bump it to drop cached verdicts
	// of this provider (for example after the endpoint changes thresholds).
	// Defaults to "1".
	PolicyVersion string
	// Timeout bounds one HTTP attempt. Defaults to 10s.
	Timeout time.Duration
	// MaxAttempts is the number of attempts, first included, for 429, 5xx and
	// network errors. Defaults to 3.
	MaxAttempts int
	// InitialBackoff is the wait after the first failed attempt; it doubles
	// each time, with jitter. Defaults to 250ms.
	InitialBackoff time.Duration
	// MaxBackoff caps every wait, including a server's Retry-After: when the
	// server asks for longer, the provider gives up at once instead of
	// waiting. Defaults to 5s.
	MaxBackoff time.Duration
	// HTTPClient sends the requests. Defaults to a client with a dedicated
	// transport (keep-alives, 5s dial timeout); its own Timeout is not used,
	// Timeout above is.
	HTTPClient *http.Client
	// Logger receives retry warnings (never the key, never the content).
	// nil means slog.Default(), as everywhere in this module.
	Logger *slog.Logger
}

// LogValue shows the config without the key.
func (c OpenAIConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("url", safeURL(c.URL)),
		slog.String("api_key", c.APIKey.String()),
		slog.String("model", c.Model),
		slog.Duration("timeout", c.Timeout),
		slog.Int("max_attempts", c.MaxAttempts),
	)
}

// String shows the config without the key or URL credentials.
func (c OpenAIConfig) String() string {
	return fmt.Sprintf("OpenAIConfig{URL:%s APIKey:%s Model:%s Timeout:%s MaxAttempts:%d}",
		safeURL(c.URL), c.APIKey, c.Model, c.Timeout, c.MaxAttempts)
}

// GoString covers %#v.
func (c OpenAIConfig) GoString() string { return c.String() }

// MarshalJSON shows the config without the key or URL credentials.
func (c OpenAIConfig) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{
		"url": safeURL(c.URL), "api_key": c.APIKey, "model": c.Model, "policy_version": c.PolicyVersion,
		"timeout": c.Timeout.String(), "max_attempts": c.MaxAttempts,
		"initial_backoff": c.InitialBackoff.String(), "max_backoff": c.MaxBackoff.String(),
	})
}

// OpenAIModerator calls an OpenAI-compatible /v1/moderations endpoint.
type OpenAIModerator struct {
	cfg      OpenAIConfig
	endpoint string
	safeURL  string
	client   *http.Client
	log      *slog.Logger
}

// DefaultOpenAIModel is the model used when none is configured.
const DefaultOpenAIModel = "omni-moderation-latest"

// NewOpenAIModerator validates cfg and builds the provider. cfg may be nil
// for the defaults (api.openai.com without a key, which the API rejects).
func NewOpenAIModerator(cfg *OpenAIConfig) (*OpenAIModerator, error) {
	c := OpenAIConfig{}
	if cfg != nil {
		c = *cfg
	}
	if c.URL == "" {
		c.URL = "https://api.openai.com/v1/moderations"
	}
	if c.Model == "" {
		c.Model = DefaultOpenAIModel
	}
	if c.PolicyVersion == "" {
		c.PolicyVersion = "1"
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 3
	}
	if c.InitialBackoff == 0 {
		c.InitialBackoff = 250 * time.Millisecond
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	switch {
	case c.Timeout < 0:
		return nil, fmt.Errorf("%w: openai Timeout must be positive", ErrInvalidConfig)
	case c.MaxAttempts < 1 || c.MaxAttempts > 10:
		return nil, fmt.Errorf("%w: openai MaxAttempts must be in [1, 10], got %d", ErrInvalidConfig, c.MaxAttempts)
	case c.InitialBackoff < 0 || c.MaxBackoff < c.InitialBackoff:
		return nil, fmt.Errorf("%w: openai backoff must satisfy 0 <= InitialBackoff <= MaxBackoff", ErrInvalidConfig)
	case strings.ContainsFunc(string(c.APIKey), unicode.IsSpace):
		return nil, fmt.Errorf("%w: openai API key contains whitespace", ErrInvalidConfig)
	}
	endpoint, err := resolveEndpoint(c.URL)
	if err != nil {
		return nil, err
	}
	client := c.HTTPClient
	if client == nil {
		client = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:          32,
			MaxIdleConnsPerHost:   16,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: c.Timeout,
			ForceAttemptHTTP2:     true,
		}}
	}
	return &OpenAIModerator{cfg: c, endpoint: endpoint, safeURL: safeURL(endpoint), client: client, log: c.Logger}, nil
}

// resolveEndpoint turns a base URL into the moderations endpoint.
func resolveEndpoint(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%w: moderation API URL must be an http(s) URL, got %q", ErrInvalidConfig, safeURL(raw))
	}
	p := strings.TrimRight(u.Path, "/")
	switch {
	case strings.HasSuffix(p, "/moderations"):
	case strings.HasSuffix(p, "/v1"):
		p += "/moderations"
	default:
		p += "/v1/moderations"
	}
	u.Path = p
	u.RawPath = ""
	return u.String(), nil
}

// safeURL drops user info and query from a URL for messages.
func safeURL(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "<invalid URL>"
	}
	u.User = nil
	u.RawQuery = ""
	u.Fragment = ""
	return u.String()
}

// Info implements Moderator.
func (m *OpenAIModerator) Info() ProviderInfo {
	return ProviderInfo{Provider: "openai", Model: m.cfg.Model, PolicyVersion: m.cfg.PolicyVersion}
}

type openAIRequest struct {
	Model string `json:"model,omitempty"`
	Input any    `json:"input"`
}

type openAIImagePart struct {
	Type     string         `json:"type"`
	ImageURL openAIImageURL `json:"image_url"`
}

type openAIImageURL struct {
	URL string `json:"url"`
}

type openAIResponse struct {
	ID      string `json:"id"`
	Model   string `json:"model"`
	Results []struct {
		Flagged        *bool              `json:"flagged"`
		Categories     map[string]bool    `json:"categories"`
		CategoryScores map[string]float64 `json:"category_scores"`
	} `json:"results"`
}

// Moderate implements Moderator. 429, 5xx and network errors are retried up
// to MaxAttempts with capped, jittered exponential backoff, honouring
// Retry-After (and retry-after-ms) within MaxBackoff. Every error wraps
// ErrProvider and never contains the API key.
func (m *OpenAIModerator) Moderate(ctx context.Context, c Content) (Verdict, error) {
	if err := c.validate(); err != nil {
		return Verdict{}, err
	}
	req := openAIRequest{Model: m.cfg.Model}
	switch c.Kind() {
	case KindText:
		req.Input = normalizedText(c.Text)
	case KindImage:
		mime := http.DetectContentType(c.ImageData)
		if !strings.HasPrefix(mime, "image/") {
			mime = "image/jpeg"
		}
		req.Input = []openAIImagePart{{Type: "image_url", ImageURL: openAIImageURL{
			URL: "data:" + mime + ";base64," + base64.StdEncoding.EncodeToString(c.ImageData)}}}
	case KindImageURL:
		req.Input = []openAIImagePart{{Type: "image_url", ImageURL: openAIImageURL{URL: strings.TrimSpace(c.ImageURL)}}}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return Verdict{}, m.fail("encoding request: %v", err)
	}

	var lastErr error
	for attempt := 1; ; attempt++ {
		v, retryAfter, retryable, err := m.once(ctx, body)
		if err == nil {
			return v, nil
		}
		lastErr = fmt.Errorf("attempt %d/%d: %w", attempt, m.cfg.MaxAttempts, err)
		if !retryable || attempt >= m.cfg.MaxAttempts || ctx.Err() != nil {
			break
		}
		wait := m.backoff(attempt)
		if retryAfter > m.cfg.MaxBackoff {
			lastErr = fmt.Errorf("%w; server asked to retry after %s, more than the %s cap", lastErr, retryAfter, m.cfg.MaxBackoff)
			break
		}
		wait = max(wait, retryAfter)
		m.log.LogAttrs(ctx, slog.LevelWarn, "Moderation provider call failed, retrying",
			slog.String("provider", "openai"), slog.Int("attempt", attempt), slog.Duration("wait", wait),
			slog.String("error", m.scrub(err.Error())))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return Verdict{}, m.fail("%v (gave up: %v)", lastErr, ctx.Err())
		case <-t.C:
		}
	}
	return Verdict{}, m.fail("%v", lastErr)
}

// fail builds the final error: wraps ErrProvider and scrubs the key.
func (m *OpenAIModerator) fail(format string, args ...any) error {
	return fmt.Errorf("%w: openai %s: %s", ErrProvider, m.safeURL, m.scrub(fmt.Sprintf(format, args...)))
}

// scrub removes the API key from s, in case an upstream message echoed it.
func (m *OpenAIModerator) scrub(s string) string {
	if k := string(m.cfg.APIKey); k != "" {
		s = strings.ReplaceAll(s, k, secret.Redacted)
	}
	return s
}

// backoff is the wait after the attempt-th failure: exponential from
// InitialBackoff, capped at MaxBackoff, with jitter in [50%, 100%].
func (m *OpenAIModerator) backoff(attempt int) time.Duration {
	d := m.cfg.InitialBackoff
	for i := 1; i < attempt && d < m.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, m.cfg.MaxBackoff)
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

// once makes one attempt.
func (m *OpenAIModerator) once(ctx context.Context, body []byte) (v Verdict, retryAfter time.Duration, retryable bool, err error) {
	actx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, m.endpoint, bytes.NewReader(body))
	if err != nil {
		return v, 0, false, errors.New("building request failed")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "zyeute-moderation/1")
	if m.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+string(m.cfg.APIKey))
	}
	resp, err := m.client.Do(req)
	if err != nil {
		// *url.Error repeats the URL (which may carry credentials): keep
		// only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if ctx.Err() != nil {
			return v, 0, false, fmt.Errorf("request cancelled: %v", ctx.Err())
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return v, 0, true, fmt.Errorf("no answer within %s", m.cfg.Timeout)
		}
		return v, 0, true, fmt.Errorf("request failed: %v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return v, 0, true, fmt.Errorf("reading response (status %d): %v", resp.StatusCode, err)
	}
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusTooManyRequests || (resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented):
		return v, parseRetryAfter(resp.Header), true, fmt.Errorf("status %d%s", resp.StatusCode, upstreamMessage(raw))
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return v, 0, false, fmt.Errorf("authentication failed (status %d): check the API key", resp.StatusCode)
	default:
		return v, 0, false, fmt.Errorf("request rejected (status %d)%s", resp.StatusCode, upstreamMessage(raw))
	}
	var r openAIResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		return v, 0, false, fmt.Errorf("invalid response: not the moderation JSON format (%v)", jsonErrSummary(err))
	}
	if len(r.Results) == 0 || r.Results[0].Flagged == nil || r.Results[0].Categories == nil {
		return v, 0, false, errors.New("invalid response: no results[0] with flagged and categories")
	}
	res := r.Results[0]
	v = Verdict{
		Flagged:    *res.Flagged,
		Categories: res.Categories,
		Scores:     res.CategoryScores,
		Provider:   "openai",
		Model:      m.cfg.Model,
	}
	if r.Model != "" {
		v.Model = r.Model
	}
	if v.Scores == nil {
		v.Scores = map[string]float64{}
	}
	return v, 0, false, nil
}

// parseRetryAfter reads retry-after-ms, then Retry-After (seconds or an HTTP
// date). Zero when absent or unparsable.
func parseRetryAfter(h http.Header) time.Duration {
	if ms := h.Get("Retry-After-Ms"); ms != "" {
		if f, err := strconv.ParseFloat(ms, 64); err == nil && f >= 0 && f < 1e9 {
			return time.Duration(f * float64(time.Millisecond))
		}
	}
	ra := strings.TrimSpace(h.Get("Retry-After"))
	if ra == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(ra, 64); err == nil && s >= 0 && s < 1e6 {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(ra); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// upstreamMessage extracts {"error":{"message":…}} from an error body,
// shortened and stripped of control characters. The caller scrubs the key.
func upstreamMessage(raw []byte) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(raw, &e) != nil || e.Error.Message == "" {
		return ""
	}
	msg := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, e.Error.Message)
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	return ": " + msg
}

// jsonErrSummary describes a decoding error without echoing the body.
func jsonErrSummary(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("malformed JSON at byte %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %q has the wrong type", te.Field)
	}
	return "malformed JSON"
}
