package moderation

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// keySchema is hashed first so that a change of the encoding below can never
// collide with keys written by an older encoding.
const keySchema = "zyeute-moderation-key/1"

// normalizedText is the text as it is hashed: Unicode NFC, trimmed.
func normalizedText(s string) string {
	return norm.NFC.String(strings.TrimSpace(s))
}

// ContentHash returns the hex SHA-256 identifying content c as judged by
// provider info p under the cache's policy version. The hash covers a
// structured encoding (each field length-prefixed) of: schema, provider,
// model, provider policy version, cache policy version, content kind and the
// normalised content (NFC-trimmed text, image bytes, or the trimmed URL).
func ContentHash(c Content, p ProviderInfo, policyVersion string) string {
	h := sha256.New()
	var lenBuf [binary.MaxVarintLen64]byte
	field := func(b []byte) {
		n := binary.PutUvarint(lenBuf[:], uint64(len(b)))
		h.Write(lenBuf[:n])
		h.Write(b)
	}
	fieldS := func(s string) { field([]byte(s)) }
	fieldS(keySchema)
	fieldS(p.Provider)
	fieldS(p.Model)
	fieldS(p.PolicyVersion)
	fieldS(policyVersion)
	kind := c.Kind()
	fieldS(kind)
	switch kind {
	case KindText:
		writeString(h, lenBuf[:], normalizedText(c.Text))
	case KindImage:
		field(c.ImageData)
	case KindImageURL:
		fieldS(strings.TrimSpace(c.ImageURL))
	}
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0]))
}

// writeString writes a length-prefixed string without copying it to a []byte
// when it is large.
func writeString(h hash.Hash, lenBuf []byte, s string) {
	n := binary.PutUvarint(lenBuf, uint64(len(s)))
	h.Write(lenBuf[:n])
	if sw, ok := h.(interface{ WriteString(string) (int, error) }); ok {
		_, _ = sw.WriteString(s)
		return
	}
	h.Write([]byte(s))
}
