package moderation

import "errors"

// Client messages of the content errors, shown by the HTTP handler.
const (
	msgAmbiguous   = "give exactly one of text, image_url or image_base64"
	msgBadImageURL = "image_url must be an http or https URL"
)

// Errors callers branch on. HTTP handlers map them to status codes and
// messages (contentError), never by editing their text.
var (
	// ErrEmptyContent: nothing to moderate (400).
	ErrEmptyContent = errors.New("moderation: content is empty")
	// ErrAmbiguousContent: more than one of text, image and image URL (400).
	ErrAmbiguousContent = errors.New("moderation: " + msgAmbiguous)
	// ErrContentTooLarge: text over 1 MiB or image over 10 MiB (413).
	ErrContentTooLarge = errors.New("moderation: content too large")
	// ErrInvalidImageURL: image URL not http(s) or too long (400).
	ErrInvalidImageURL = errors.New("moderation: " + msgBadImageURL)
	// ErrProvider wraps every failure of the provider (502). The message
	// that follows it never contains secrets.
	ErrProvider = errors.New("moderation provider failed")
	// ErrInvalidConfig wraps configuration errors from constructors.
	ErrInvalidConfig = errors.New("moderation: invalid config")
)
