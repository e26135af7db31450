package moderation

import (
	"context"
	"log/slog"
	"net/url"
	"strings"
)

// Moderator is a moderation provider: it judges one piece of content.
//
// Implementations must be safe for concurrent use. Errors returned by
// Moderate must never contain secrets (API keys, credentials in URLs).
type Moderator interface {
	// Moderate judges c. It returns an error when no verdict could be
	// obtained; a verdict is never partial.
	Moderate(ctx context.Context, c Content) (Verdict, error)
	// Info describes the provider. Its fields take part in the cache key.
	Info() ProviderInfo
}

// ProviderInfo describes a provider.
type ProviderInfo struct {
	// Provider is the provider's short name, for example "rules" or "openai".
	Provider string
	// Model is the model or rule set the provider uses.
	Model string
	// PolicyVersion changes whenever the provider's judgement may change for
	// the same input and model (for example when term lists are edited).
	PolicyVersion string
	// Local is true when the provider needs no network and cannot be down.
	Local bool
}

// Content is what is moderated: exactly one of Text, ImageData or ImageURL is
// set.
type Content struct {
	// Text is user text (a comment, a caption, a bio).
	Text string
	// ImageData is the bytes of an image.
	ImageData []byte
	// ImageURL is the http(s) URL of an image, when its bytes are not at hand.
	ImageURL string
}

// Kind of content, as used in the cache key.
const (
	KindText     = "text"
	KindImage    = "image"
	KindImageURL = "image_url"
)

// Kind returns KindText, KindImage or KindImageURL, or "" when c is empty or
// has more than one part.
func (c Content) Kind() string {
	n := 0
	kind := ""
	if c.Text != "" {
		n, kind = n+1, KindText
	}
	if len(c.ImageData) > 0 {
		n, kind = n+1, KindImage
	}
	if c.ImageURL != "" {
		n, kind = n+1, KindImageURL
	}
	if n != 1 {
		return ""
	}
	return kind
}

// LogValue never logs the content itself, only its kind and size.
func (c Content) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("kind", c.Kind()),
		slog.Int("bytes", len(c.Text)+len(c.ImageData)+len(c.ImageURL)),
	)
}

// validate checks that c has exactly one part within the size limits.
func (c Content) validate() error {
	if strings.TrimSpace(c.Text) == "" && len(c.ImageData) == 0 && strings.TrimSpace(c.ImageURL) == "" {
		return ErrEmptyContent
	}
	if c.Kind() == "" {
		return ErrAmbiguousContent
	}
	switch c.Kind() {
	case KindText:
		if len(c.Text) > MaxTextBytes {
			return ErrContentTooLarge
		}
	case KindImage:
		if len(c.ImageData) > MaxImageBytes {
			return ErrContentTooLarge
		}
	case KindImageURL:
		if len(c.ImageURL) > MaxImageURLBytes {
			return ErrInvalidImageURL
		}
		u, err := url.Parse(strings.TrimSpace(c.ImageURL))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return ErrInvalidImageURL
		}
	}
	return nil
}

// Size limits on content.
const (
	// MaxTextBytes is the largest text accepted (1 MiB of UTF-8).
	MaxTextBytes = 1 << 20
	// MaxImageBytes is the largest image accepted (10 MiB, decoded).
	MaxImageBytes = 10 << 20
	// MaxImageURLBytes is the longest image URL accepted.
	MaxImageURLBytes = 8 << 10
)

// Verdict is a provider's judgement, in the same shape for every provider.
type Verdict struct {
	// Flagged is true when any category is true.
	Flagged bool `json:"flagged"`
	// Categories says, per category, whether the content breaks it.
	Categories map[string]bool `json:"categories"`
	// Scores are per-category confidences in [0, 1].
	Scores map[string]float64 `json:"scores"`
	// Provider and Model name who judged.
	Provider string `json:"provider"`
	Model    string `json:"model"`
	// Unsupported is true when the provider cannot judge this kind of
	// content (the rules provider and images); the verdict is then "not
	// flagged" by default and Note says why.
	Unsupported bool   `json:"unsupported,omitempty"`
	Note        string `json:"note,omitempty"`
}

// Categories used by the rules provider. The OpenAI-compatible provider
// returns whatever categories the endpoint reports (a superset of most of
// these, e.g. "harassment/threatening", "self-harm/intent").
const (
	CategoryHarassment            = "harassment"
	CategoryHarassmentThreatening = "harassment/threatening"
	CategoryHate                  = "hate"
	CategoryViolence              = "violence"
	CategorySelfHarm              = "self-harm"
	CategorySexual                = "sexual"
	CategorySexualMinors          = "sexual/minors"
	CategorySpam                  = "spam"
	CategoryProfanity             = "profanity"
)
