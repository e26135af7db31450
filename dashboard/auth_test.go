package dashboard_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zyeute/zyeute-redis/dashboard"
	"github.com/zyeute/zyeute-redis/session"
)

// TestLoginCookie: a right token gets a session cookie HttpOnly,
// SameSite=Strict, Path=/ (not Secure over plain http); a wrong one 401
// and no cookie; the session lives in Redis; the token is never logged.
func TestLoginCookie(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	resp, body := b.req("POST", dashboard.APIPath+"/login", map[string]string{"Content-Type": "application/json"}, `{"token":"wrong-token-000000000"}`)
	if resp.StatusCode != 401 || len(resp.Cookies()) != 0 {
		t.Fatalf("wrong token: %d %v cookies %v", resp.StatusCode, body, resp.Cookies())
	}
	resp, body = b.req("POST", dashboard.APIPath+"/login", map[string]string{"Content-Type": "application/json"}, `{"token":"`+testToken+`"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("login: %d %v", resp.StatusCode, body)
	}
	c := resp.Cookies()[0]
	if c.Name != dashboard.CookieName || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure {
		t.Errorf("cookie %+v", c)
	}
	if csrf, _ := body["csrf"].(string); len(csrf) < 40 {
		t.Errorf("csrf token %q", csrf)
	}
	if n, err := b.rc.Exists(context.Background(), session.DefaultKeyPrefix+c.Value).Result(); err != nil || n != 1 {
		t.Errorf("session not in Redis: %d %v", n, err)
	}
	resp, body = b.req("GET", dashboard.APIPath+"/session", cookieHdr(c, nil), "")
	if resp.StatusCode != 200 || body["backend"] != "redis" {
		t.Errorf("session: %d %v", resp.StatusCode, body)
	}
	// A form post (no JSON) cannot sign in.
	resp, _ = b.req("POST", dashboard.APIPath+"/login", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "token="+testToken)
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("form login: %d", resp.StatusCode)
	}
	if strings.Contains(b.logs.String(), testToken) || strings.Contains(b.logs.String(), c.Value) {
		t.Errorf("token or session id logged:\n%s", b.logs.String())
	}
}

// TestSecureCookieBehindTrustedProxy: X-Forwarded-Proto: https makes the
// cookie Secure with the __Host- prefix only when TrustProxy is set.
func TestSecureCookieBehindTrustedProxy(t *testing.T) {
	t.Parallel()
	plain := setup(t, nil)
	c, _ := plain.login(map[string]string{"X-Forwarded-Proto": "https"})
	if c.Secure || c.Name != dashboard.CookieName {
		t.Errorf("untrusted proxy header obeyed: %+v", c)
	}
	trusted := setup(t, func(o *dashboard.Options) { o.TrustProxy = true })
	c, _ = trusted.login(map[string]string{"X-Forwarded-Proto": "https"})
	if !c.Secure || c.Name != dashboard.SecureCookieName || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
		t.Errorf("behind a trusted https proxy: %+v", c)
	}
}

// TestLoginRotatesID: the id a browser presents at sign-in is deleted and
// a new one issued (session fixation).
func TestLoginRotatesID(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	old, _ := b.login(nil)
	fresh, _ := b.login(cookieHdr(old, nil))
	if fresh.Value == old.Value {
		t.Fatal("same session id after a second sign-in")
	}
	if resp, _ := b.req("GET", dashboard.APIPath+"/session", cookieHdr(old, nil), ""); resp.StatusCode != 401 {
		t.Errorf("old id still accepted: %d", resp.StatusCode)
	}
	if resp, _ := b.req("GET", dashboard.APIPath+"/session", cookieHdr(fresh, nil), ""); resp.StatusCode != 200 {
		t.Errorf("new id refused: %d", resp.StatusCode)
	}
}

// TestCSRFRefused: with a valid session cookie, a POST without the CSRF
// token, with a wrong one, or from another Origin is refused (403) and
// the queue is not paused; with the token it passes.
func TestCSRFRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	q := b.queue("mail")
	if _, err := q.Add(context.Background(), "x", map[string]any{}, nil); err != nil {
		t.Fatal(err)
	}
	c, csrf := b.login(nil)
	path := dashboard.APIPath + "/queues/mail/pause"
	for name, h := range map[string]map[string]string{
		"no token":     nil,
		"wrong token":  {dashboard.CSRFHeader: strings.Repeat("A", 43)},
		"other origin": {dashboard.CSRFHeader: csrf, "Origin": "http://evil.example"},
	} {
		resp, body := b.req("POST", path, cookieHdr(c, h), "")
		if resp.StatusCode != http.StatusForbidden || body["code"] != "csrf" {
			t.Errorf("%s: %d %v", name, resp.StatusCode, body)
		}
	}
	if p, _ := q.IsPaused(context.Background()); p {
		t.Fatal("a refused request paused the queue")
	}
	resp, body := b.req("POST", path, cookieHdr(c, map[string]string{dashboard.CSRFHeader: csrf, "Origin": b.ts.URL}), "")
	if resp.StatusCode != 200 {
		t.Fatalf("with the token: %d %v", resp.StatusCode, body)
	}
	if p, _ := q.IsPaused(context.Background()); !p {
		t.Fatal("queue not paused")
	}
}

// TestBearerTokenForScripts: the API takes the admin token as a bearer
// token (no cookie, no CSRF token), and refuses a wrong one.
func TestBearerTokenForScripts(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	q := b.queue("bills")
	if _, err := q.Add(context.Background(), "x", map[string]any{}, nil); err != nil {
		t.Fatal(err)
	}
	resp, body := b.req("GET", dashboard.APIPath+"/queues", map[string]string{"Authorization": "Bearer " + testToken}, "")
	if resp.StatusCode != 200 {
		t.Fatalf("queues: %d %v", resp.StatusCode, body)
	}
	qs, _ := body["queues"].([]any)
	if len(qs) != 1 || qs[0].(map[string]any)["name"] != "bills" {
		t.Errorf("queues: %v", body)
	}
	resp, _ = b.req("POST", dashboard.APIPath+"/queues/bills/pause", map[string]string{"Authorization": "Bearer " + testToken}, "")
	if p, _ := q.IsPaused(context.Background()); resp.StatusCode != 200 || !p {
		t.Errorf("pause by bearer: %d paused=%v", resp.StatusCode, p)
	}
	resp, _ = b.req("GET", dashboard.APIPath+"/queues", map[string]string{"Authorization": "Bearer nope"}, "")
	if resp.StatusCode != 401 {
		t.Errorf("wrong bearer: %d", resp.StatusCode)
	}
	resp, _ = b.req("GET", dashboard.APIPath+"/queues", nil, "")
	if resp.StatusCode != 401 {
		t.Errorf("no credentials: %d", resp.StatusCode)
	}
}

// TestTokenUnset: with no admin token, sign-in answers 503 and says so.
func TestTokenUnset(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *dashboard.Options) { o.AdminToken = "" })
	resp, body := b.req("POST", dashboard.APIPath+"/login", map[string]string{"Content-Type": "application/json"}, `{"token":"x"}`)
	if resp.StatusCode != 503 || body["error"] != "ADMIN_TOKEN not set" {
		t.Errorf("%d %v", resp.StatusCode, body)
	}
}

// TestTimeouts: a session idle for IdleTimeout, or signed in more than
// AbsoluteTimeout ago even when used, is refused (401, code expired) and
// deleted; background polls do not count as use.
func TestTimeouts(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	b := setup(t, func(o *dashboard.Options) {
		o.Now, o.IdleTimeout, o.AbsoluteTimeout = clock, 10*time.Minute, time.Hour
	})
	sess := dashboard.APIPath + "/session"

	c, _ := b.login(nil)
	for i := 0; i < 3; i++ { // used every 8 min: stays alive
		advance(8 * time.Minute)
		if resp, body := b.req("GET", sess, cookieHdr(c, nil), ""); resp.StatusCode != 200 {
			t.Fatalf("used session refused: %d %v", resp.StatusCode, body)
		}
	}
	for i := 0; i < 2; i++ { // polled every 6 min: polls are no use
		advance(6 * time.Minute)
		resp, body := b.req("GET", sess, cookieHdr(c, map[string]string{dashboard.BackgroundHeader: "1"}), "")
		if i == 0 && resp.StatusCode != 200 {
			t.Fatalf("poll within idle timeout: %d %v", resp.StatusCode, body)
		}
		if i == 1 && (resp.StatusCode != 401 || body["code"] != "expired") {
			t.Fatalf("idle session (only polled for 12 min): %d %v", resp.StatusCode, body)
		}
	}
	if _, err := b.store.Get(context.Background(), c.Value); err != session.ErrNotFound {
		t.Errorf("expired session still stored: %v", err)
	}
	// The page's other requests in flight with the same cookie are told
	// "expired" as well, not "not signed in".
	if resp, body := b.req("GET", sess, cookieHdr(c, map[string]string{dashboard.BackgroundHeader: "1"}), ""); resp.StatusCode != 401 || body["code"] != "expired" {
		t.Fatalf("second request with the expired session's cookie: %d %v", resp.StatusCode, body)
	}

	c, _ = b.login(nil)
	for i := 0; i < 7; i++ { // used every 9 min, but the hour is up
		advance(9 * time.Minute)
		resp, body := b.req("GET", sess, cookieHdr(c, nil), "")
		if i < 6 && resp.StatusCode != 200 {
			t.Fatalf("refused after %d min: %d %v", 9*(i+1), resp.StatusCode, body)
		}
		if i == 6 && (resp.StatusCode != 401 || !strings.Contains(body["error"].(string), "1h0m0s")) {
			t.Fatalf("past the absolute timeout: %d %v", resp.StatusCode, body)
		}
	}
}

// TestLogoutSticks: after sign-out the old cookie is refused, the Redis
// key is gone, and sign-out needs the CSRF token too.
func TestLogoutSticks(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c, csrf := b.login(nil)
	if resp, _ := b.req("POST", dashboard.APIPath+"/logout", cookieHdr(c, nil), ""); resp.StatusCode != 403 {
		t.Errorf("logout without CSRF token: %d", resp.StatusCode)
	}
	resp, body := b.req("POST", dashboard.APIPath+"/logout", cookieHdr(c, map[string]string{dashboard.CSRFHeader: csrf}), "")
	if resp.StatusCode != 200 || body["signed_out"] != true {
		t.Fatalf("logout: %d %v", resp.StatusCode, body)
	}
	if cl := resp.Cookies(); len(cl) != 1 || cl[0].MaxAge >= 0 {
		t.Errorf("cookie not cleared: %v", cl)
	}
	if resp, _ := b.req("GET", dashboard.APIPath+"/queues", cookieHdr(c, nil), ""); resp.StatusCode != 401 {
		t.Errorf("old cookie after logout: %d", resp.StatusCode)
	}
	if n, _ := b.rc.Exists(context.Background(), session.DefaultKeyPrefix+c.Value).Result(); n != 0 {
		t.Error("session key still in Redis")
	}
}

// TestLoginRateLimited: after 10 wrong tokens in a minute even the right
// one waits (429).
func TestLoginRateLimited(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	for i := 0; i < 10; i++ {
		if resp, _ := b.req("POST", dashboard.APIPath+"/login", map[string]string{"Content-Type": "application/json"}, `{"token":"guess"}`); resp.StatusCode != 401 {
			t.Fatalf("guess %d: %d", i, resp.StatusCode)
		}
	}
	resp, _ := b.req("POST", dashboard.APIPath+"/login", map[string]string{"Content-Type": "application/json"}, `{"token":"`+testToken+`"}`)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("after 10 failures: %d", resp.StatusCode)
	}
}
