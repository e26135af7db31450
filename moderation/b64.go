package moderation

import (
	"fmt"
	"net/http"
	"strings"
)

// b64Sink decodes image_base64 while it is read: standard or URL-safe
// alphabet, padding optional, line breaks and spaces ignored, optionally
// after a "data:<type>;base64," prefix. It fails with 413 as soon as the
// decoded image would exceed MaxImageBytes.
type b64Sink struct {
	out    []byte
	quad   [4]byte // sextets of the current group
	nq     int
	pads   int
	head   []byte // the first bytes, until we know whether it is a data URL
	inData bool   // past the head
}

// b64Value maps a base64 character of either alphabet to its value, -1
// for anything else.
var b64Value = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	const std = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := range len(std) {
		t[std[i]] = int8(i)
	}
	t['-'], t['_'] = 62, 63
	return t
}()

func newB64Sink(sizeHint int64) *b64Sink {
	d := &b64Sink{}
	if sizeHint > 0 {
		d.out = make([]byte, 0, min(sizeHint/4*3+3, MaxImageBytes))
	}
	return d
}

var errImageTooLarge = &apiError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("image too large: the limit is %d bytes", MaxImageBytes)}

var errBadBase64 = &apiError{status: http.StatusBadRequest, msg: "image_base64 is not valid base64"}

func (d *b64Sink) write(b []byte) error {
	if !d.inData {
		// Keep up to 256 bytes to recognise "data:…;base64,".
		d.head = append(d.head, b...)
		h := strings.TrimLeft(string(d.head), " \t\r\n")
		switch {
		case len(h) < 5 && "data:"[:len(h)] == h:
			return nil // too early to tell
		case strings.HasPrefix(h, "data:"):
			i := strings.Index(h, ";base64,")
			if i < 0 {
				if len(h) > 256 {
					return &apiError{status: http.StatusBadRequest, msg: "image_base64: data URL must be base64-encoded"}
				}
				return nil
			}
			b = []byte(h[i+len(";base64,"):])
		default:
			b = d.head
		}
		d.inData, d.head = true, nil
	}
	return d.decode(b)
}

func (d *b64Sink) decode(b []byte) error {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '=':
			d.pads++
			continue
		}
		v := b64Value[c]
		if v < 0 || d.pads > 0 {
			return errBadBase64
		}
		d.quad[d.nq] = byte(v)
		if d.nq++; d.nq == 4 {
			if len(d.out)+3 > MaxImageBytes {
				return errImageTooLarge
			}
			d.out = append(d.out, d.quad[0]<<2|d.quad[1]>>4, d.quad[1]<<4|d.quad[2]>>2, d.quad[2]<<6|d.quad[3])
			d.nq = 0
		}
	}
	return nil
}

// finish decodes the last group and checks padding.
func (d *b64Sink) finish() ([]byte, error) {
	if !d.inData {
		h := strings.TrimSpace(string(d.head))
		if strings.HasPrefix(h, "data:") {
			return nil, &apiError{status: http.StatusBadRequest, msg: "image_base64: data URL must be base64-encoded"}
		}
		d.inData = true
		if err := d.decode(d.head); err != nil {
			return nil, err
		}
	}
	// Padding, when present, completes the last group: 2 or 3 characters
	// with 2 or 1 "=".
	if d.pads > 0 && (d.nq == 0 || d.nq+d.pads != 4) {
		return nil, errBadBase64
	}
	switch d.nq {
	case 1:
		return nil, errBadBase64
	case 2:
		d.out = append(d.out, d.quad[0]<<2|d.quad[1]>>4)
	case 3:
		d.out = append(d.out, d.quad[0]<<2|d.quad[1]>>4, d.quad[1]<<4|d.quad[2]>>2)
	}
	if len(d.out) > MaxImageBytes {
		return nil, errImageTooLarge
	}
	if len(d.out) == 0 {
		return nil, &apiError{status: http.StatusBadRequest, msg: "empty content: image_base64 is empty"}
	}
	return d.out, nil
}
