package moderation

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// The body of POST /api/moderation is read as a stream, field by field, so
// that a request is refused as soon as it is known to be too large, without
// reading (or holding) the rest: text over MaxTextBytes after about 1 MiB,
// an image over MaxImageBytes once 10 MiB of it are decoded, a body
// over maxBodyBytes (declared in Content-Length) before reading anything.
// image_base64 is decoded while it is read, so an image costs its decoded
// size in memory once, not the JSON text, the string and the bytes (three
// copies, ~37 MiB for a 10 MiB image, with encoding/json).
//
// Accepted: one JSON object whose keys are exactly "text", "image_url" or
// "image_base64" (case-sensitive, each at most once) with a string or null
// value; whitespace around; nothing after the object.

// bodyParser reads one request object.
type bodyParser struct {
	r *bufio.Reader
}

var errBadJSON = &apiError{status: http.StatusBadRequest, msg: "invalid JSON"}

// readErr maps a read error: the body limit (413), or a truncated body.
func readErr(err error) error {
	if isTooLarge(err) {
		return bodyError(err)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errBadJSON
	}
	return &apiError{status: http.StatusBadRequest, msg: "could not read the request body", err: err}
}

// next returns the next byte that is not JSON whitespace.
func (p *bodyParser) next() (byte, error) {
	for {
		c, err := p.r.ReadByte()
		if err != nil {
			return 0, err
		}
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c, nil
	}
}

// sink receives the bytes of a JSON string value as they are unescaped.
type sink interface {
	write(b []byte) error
}

// limitedBuf is a sink for text and image_url: it fails with tooBig once
// more than max bytes were written.
type limitedBuf struct {
	b      []byte
	max    int
	tooBig error
}

func (l *limitedBuf) write(b []byte) error {
	if len(l.b)+len(b) > l.max {
		return l.tooBig
	}
	l.b = append(l.b, b...)
	return nil
}

// readString reads a JSON string whose opening quote was consumed, writing
// its unescaped bytes to out. Invalid UTF-8 is passed through (the caller
// replaces it, as encoding/json does).
func (p *bodyParser) readString(out sink) error {
	var one [utf8.UTFMax]byte
	for {
		chunk, err := p.r.Peek(max(1, p.r.Buffered()))
		if len(chunk) == 0 {
			return readErr(err)
		}
		i := 0
		for i < len(chunk) && chunk[i] != '"' && chunk[i] != '\\' && chunk[i] >= 0x20 {
			i++
		}
		if err := out.write(chunk[:i]); err != nil {
			return err
		}
		_, _ = p.r.Discard(i)
		if i == len(chunk) {
			continue
		}
		c, _ := p.r.ReadByte()
		if c == '"' {
			return nil
		}
		if c < 0x20 {
			return &apiError{status: http.StatusBadRequest, msg: "invalid JSON: control character in a string"}
		}
		e, err := p.r.ReadByte()
		if err != nil {
			return readErr(err)
		}
		var r rune
		switch e {
		case '"', '\\', '/':
			r = rune(e)
		case 'b':
			r = '\b'
		case 'f':
			r = '\f'
		case 'n':
			r = '\n'
		case 'r':
			r = '\r'
		case 't':
			r = '\t'
		case 'u':
			if r, err = p.hex4(); err != nil {
				return err
			}
			if utf16.IsSurrogate(r) {
				// A pair is \uD8xx\uDCxx. Anything else makes this half
				// U+FFFD and what follows is read on its own, as
				// encoding/json does.
				r2 := rune(-1)
				if b, _ := p.r.Peek(6); len(b) == 6 && b[0] == '\\' && b[1] == 'u' {
					r2 = hexRune(b[2:6])
				}
				if d := utf16.DecodeRune(r, r2); r2 >= 0 && d != utf8.RuneError {
					_, _ = p.r.Discard(6)
					r = d
				} else {
					r = utf8.RuneError
				}
			}
		default:
			return &apiError{status: http.StatusBadRequest, msg: "invalid JSON: bad escape in a string"}
		}
		n := utf8.EncodeRune(one[:], r)
		if err := out.write(one[:n]); err != nil {
			return err
		}
	}
}

// hexRune decodes 4 hex digits, or returns -1.
func hexRune(b []byte) rune {
	var r rune
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

func (p *bodyParser) hex4() (rune, error) {
	var r rune
	for range 4 {
		c, err := p.r.ReadByte()
		if err != nil {
			return 0, readErr(err)
		}
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, &apiError{status: http.StatusBadRequest, msg: "invalid JSON: bad \\u escape in a string"}
		}
		r = r<<4 | rune(c)
	}
	return r, nil
}

// skipLiteral consumes the rest of a JSON literal (null, true, false) whose
// first byte was read.
func (p *bodyParser) skipLiteral(rest string) error {
	for i := 0; i < len(rest); i++ {
		c, err := p.r.ReadByte()
		if err != nil {
			return readErr(err)
		}
		if c != rest[i] {
			return errBadJSON
		}
	}
	return nil
}

// validUTF8 replaces each invalid byte by U+FFFD, as encoding/json does.
func validUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var s strings.Builder
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			s.WriteRune(utf8.RuneError)
		} else {
			s.Write(b[:n])
		}
		b = b[n:]
	}
	return s.String()
}

// readRequest reads and checks the body. sizeHint is the declared body size
// (Content-Length, -1 when unknown), used to size the image buffer once.
func readRequest(body io.Reader, sizeHint int64) (Content, error) {
	p := &bodyParser{r: bufio.NewReaderSize(body, 32<<10)}
	c, err := p.next()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return Content{}, &apiError{status: http.StatusBadRequest, msg: "empty body: send a JSON object"}
		}
		return Content{}, readErr(err)
	}
	if c != '{' {
		return Content{}, &apiError{status: http.StatusBadRequest, msg: "invalid JSON: the body must be a JSON object"}
	}
	var (
		content Content
		seen    = map[string]bool{}
		given   int
	)
	for first := true; ; first = false {
		c, err := p.next()
		if err != nil {
			return Content{}, readErr(err)
		}
		if c == '}' && first {
			break
		}
		if c != '"' {
			return Content{}, errBadJSON
		}
		key := &limitedBuf{max: 64, tooBig: &apiError{status: http.StatusBadRequest, msg: "invalid JSON: unknown field"}}
		if err := p.readString(key); err != nil {
			return Content{}, err
		}
		name := validUTF8(key.b)
		switch name {
		case "text", "image_url", "image_base64":
		default:
			return Content{}, &apiError{status: http.StatusBadRequest, msg: fmt.Sprintf("invalid JSON: unknown field %q", name)}
		}
		if seen[name] {
			return Content{}, &apiError{status: http.StatusBadRequest, msg: fmt.Sprintf("invalid JSON: duplicate field %q", name)}
		}
		seen[name] = true
		if c, err = p.next(); err != nil {
			return Content{}, readErr(err)
		}
		if c != ':' {
			return Content{}, errBadJSON
		}
		if c, err = p.next(); err != nil {
			return Content{}, readErr(err)
		}
		switch c {
		case 'n':
			if err := p.skipLiteral("ull"); err != nil {
				return Content{}, err
			}
		case '"':
			if given++; given > 1 {
				// Refused before its value is read.
				return Content{}, contentError(ErrAmbiguousContent)
			}
			if err := p.readField(name, &content, sizeHint); err != nil {
				return Content{}, err
			}
		default:
			return Content{}, &apiError{status: http.StatusBadRequest, msg: fmt.Sprintf("invalid JSON: field %q must be a string", name)}
		}
		if c, err = p.next(); err != nil {
			return Content{}, readErr(err)
		}
		if c == '}' {
			break
		}
		if c != ',' {
			return Content{}, errBadJSON
		}
	}
	if _, err := p.next(); !errors.Is(err, io.EOF) {
		if err != nil && isTooLarge(err) {
			return Content{}, bodyError(err)
		}
		return Content{}, &apiError{status: http.StatusBadRequest, msg: "invalid JSON: the body must be a single object"}
	}
	if given == 0 {
		return Content{}, &apiError{status: http.StatusBadRequest, msg: "empty content: give one of text, image_url or image_base64"}
	}
	return content, nil
}

// readNonEmpty reads a string value of at most max bytes (tooBig past
// that) into dst; an empty one is refused.
func (p *bodyParser) readNonEmpty(dst *string, max int, tooBig error) error {
	buf := &limitedBuf{max: max, tooBig: tooBig}
	if err := p.readString(buf); err != nil {
		return err
	}
	*dst = validUTF8(buf.b)
	if *dst == "" {
		return contentError(ErrEmptyContent)
	}
	return nil
}

// readField reads the string value of field name into content.
func (p *bodyParser) readField(name string, content *Content, sizeHint int64) error {
	switch name {
	case "text":
		return p.readNonEmpty(&content.Text, MaxTextBytes, contentError(ErrContentTooLarge))
	case "image_url":
		return p.readNonEmpty(&content.ImageURL, MaxImageURLBytes, contentError(ErrInvalidImageURL))
	case "image_base64":
		d := newB64Sink(sizeHint)
		if err := p.readString(d); err != nil {
			return err
		}
		data, err := d.finish()
		if err != nil {
			return err
		}
		content.ImageData = data
	}
	return nil
}
